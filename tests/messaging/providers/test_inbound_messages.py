"""An inbound text is tied to a customer only when its number says unambiguously whose it is."""

from __future__ import annotations

import pytest

from avis.customers.models import Customer
from avis.messaging.conversations import receive_sms
from avis.messaging.dispatch import deliver_message
from avis.messaging.models import InboundMessage, OutboundMessage
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db


def receive(sender: str, sid: str = "") -> InboundMessage:
    inbound = receive_sms(
        provider="http", provider_message_id=sid, sender=sender, recipient="AVIS", text="10"
    )
    return InboundMessage.objects.get(id=inbound.id)  # as the worker that handled it left it


def test_number_of_one_customer_finds_them_without_a_message_sent(org) -> None:
    customer = Customer.objects.create(organisation=org.organisation, external_id="C-9", phone="+33612345678")
    message = receive("0033612345678")
    assert message.sender == "+33612345678"
    assert (message.organisation_id, message.customer_id, message.reply_to_id) == (
        org.organisation.id,
        customer.id,
        None,
    )


def test_number_shared_by_two_organisations_is_settled_by_the_last_text_we_sent(org, other_org, api) -> None:
    Customer.objects.create(organisation=other_org.organisation, external_id="X-1", phone="+33612345678")
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78")  # C-1 of org, same number
    assert receive("+33612345678").organisation_id is None  # a guess could leak across tenants

    outbound = OutboundMessage.objects.get()
    deliver_message(message_id=outbound.id)

    reply = receive("+33612345678")
    assert reply.organisation_id == org.organisation.id
    assert reply.customer.external_id == "C-1"
    assert reply.reply_to_id == outbound.id


def test_same_provider_message_twice_is_one_row(org) -> None:
    first = receive("+33612345678", sid="in-7")
    again = receive("+33612345678", sid="in-7")
    assert first.id == again.id


@pytest.mark.django_db(transaction=True)
def test_texts_arriving_together_are_each_kept_once_including_a_providers_retry() -> None:
    """Webhook threads write their texts in groups (SQLite): every one is kept, a retry finds its first."""
    import threading

    from django.db import connection

    from avis.messaging.inbound import record_inbound_message

    first = record_inbound_message(
        provider="http", provider_message_id="gw-retried", sender="+33612345678", recipient="", text="9"
    )
    start = threading.Barrier(8)
    kept: dict[str, tuple[int, str]] = {}

    def webhook(number: int) -> None:
        try:
            start.wait()
            for turn in range(5):
                key = "gw-retried" if (number, turn) == (3, 2) else f"gw-{number}-{turn}"
                text = "9" if key == "gw-retried" else f"{number}/{turn}"
                row = record_inbound_message(
                    provider="http", provider_message_id=key, sender="+33612345678", recipient="", text=text
                )
                kept[key] = (row.id, row.text)
        finally:
            connection.close()

    threads = [threading.Thread(target=webhook, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert InboundMessage.objects.count() == 1 + 8 * 5 - 1
    assert kept["gw-retried"] == (first.id, "9")
    stored = dict(InboundMessage.objects.values_list("provider_message_id", "id"))
    assert {key: row_id for key, (row_id, _) in kept.items()} == stored
    assert all(
        text == f"{key[3:].replace('-', '/')}" for key, (_, text) in kept.items() if key != "gw-retried"
    )
