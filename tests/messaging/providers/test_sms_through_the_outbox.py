"""SMS invitations leave through the outbox and the configured provider, failures included."""

from __future__ import annotations

import pytest

from avis.customers.models import Customer
from avis.messaging.dispatch import Delivery, deliver_message
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation
from tests.helpers import open_all_day, post_interaction
from tests.messaging.providers.servers import Reply, twilio_error


@pytest.mark.django_db(transaction=True)
def test_phone_only_customer_gets_the_first_question_by_sms_from_the_gateway(org, api, gateway) -> None:
    open_all_day(org.organisation)
    response = post_interaction(api, "evt-e2e", email=None, phone="06 12 34 56 78")
    assert response.status_code == 200
    assert response.json()["decision"]["outcome"] == "invite"

    (request,) = gateway.received  # dispatched on commit, sent by the (inline) worker
    (sms,) = request.json()["messages"]
    invitation = Invitation.objects.get()
    assert sms["to"] == "+33612345678"
    assert sms["text"].startswith("Recommanderiez-vous Assurances du Centre à un proche ?")
    assert "STOP" in sms["text"]
    assert request.headers["idempotency-key"] == f"invitation-{invitation.id}"
    message = OutboundMessage.objects.get(kind="invitation")
    assert (message.status, message.provider) == ("sent", "http")
    assert message.provider_message_id.startswith("gw-")
    assert invitation.status == "sent"


@pytest.mark.django_db
def test_gateway_error_leaves_the_message_for_a_later_try(queued_sms, gateway) -> None:
    gateway.script.append(Reply(503, {"error": "maintenance"}))
    assert deliver_message(message_id=queued_sms.id) == Delivery.RETRY
    queued_sms.refresh_from_db()
    assert (queued_sms.status, queued_sms.attempts) == ("pending", 1)
    assert "503" in queued_sms.last_error


@pytest.mark.django_db
def test_gateway_refusal_fails_the_message_for_good(queued_sms, gateway) -> None:
    gateway.script.append(Reply(400, {"error": "bad destination"}))
    assert deliver_message(message_id=queued_sms.id) == Delivery.FAILED
    queued_sms.refresh_from_db()
    assert queued_sms.status == "failed"
    assert Customer.objects.get().phone_status == "ok"  # a gateway 4xx doesn't say which part was wrong


@pytest.mark.django_db
def test_twilio_rejecting_the_number_marks_the_customer_phone_invalid(queued_sms, twilio) -> None:
    twilio.script.append(
        twilio_error(400, 21211, "The 'To' number +33612345678 is not a valid phone number.")
    )
    assert deliver_message(message_id=queued_sms.id) == Delivery.FAILED
    queued_sms.refresh_from_db()
    assert queued_sms.status == "failed"
    customer = Customer.objects.get()
    assert customer.phone_status == "invalid"
    assert customer.phone_failed_at is not None


@pytest.mark.django_db
def test_twilio_outage_leaves_the_message_for_a_later_try(queued_sms, twilio) -> None:
    twilio.script.append(twilio_error(500, 20500, "Internal Server Error"))
    assert deliver_message(message_id=queued_sms.id) == Delivery.RETRY
    queued_sms.refresh_from_db()
    assert queued_sms.status == "pending"
    assert Customer.objects.get().phone_status == "ok"


@pytest.mark.django_db
def test_message_records_the_provider_that_actually_sent_it(queued_sms, twilio) -> None:
    assert queued_sms.provider == "console"  # queued before Twilio was configured
    deliver_message(message_id=queued_sms.id)
    queued_sms.refresh_from_db()
    assert queued_sms.provider == "twilio"


def _batch_statements(ids: list[int]) -> tuple[list[str], list[str]]:
    """The statements of one task sending ``ids``: those before its booking, and the booking's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from avis.messaging.tasks import deliver_messages

    with CaptureQueriesContext(connection) as queries:
        assert deliver_messages.call_local(ids) == {"sent": len(ids)}
    statements = [query["sql"] for query in queries.captured_queries]
    booking_starts = next(i for i, sql in enumerate(statements) if sql.startswith("SAVEPOINT"))
    return statements[:booking_starts], statements[booking_starts:]


@pytest.mark.django_db
def test_a_batch_costs_one_statement_per_message_and_a_constant_rest(org, api, gateway, monkeypatch) -> None:
    """Dispatch speed rests on this: nothing read row by row, one write per message posted."""
    from huey.contrib.djhuey import HUEY

    from avis.messaging import dispatch

    monkeypatch.setattr(dispatch, "BOOKING_SECONDS", 600)  # one booking per batch, however slow the test
    open_all_day(org.organisation)
    HUEY.immediate = False
    try:
        for i in range(15):
            post_interaction(api, f"b-{i}", customer=f"B-{i}", email=None, phone=f"06 12 34 56 {i:02d}")
    finally:
        HUEY.immediate = True
    ids = list(OutboundMessage.objects.order_by("id").values_list("id", flat=True))
    small, large = _batch_statements(ids[:3]), _batch_statements(ids[3:])
    record = 'UPDATE "messaging_outboundmessage" SET "sent_at"'
    for (sending, _), size in ((small, 3), (large, 12)):
        assert len([sql for sql in sending if sql.startswith(record)]) == size  # each post recorded, alone
    # Claiming and loading do not grow with the batch; the booking barely does (one more
    # statement group when its sends straddle a second).
    assert len(small[0]) - 3 == len(large[0]) - 12
    assert len(large[1]) <= 2 * len(small[1])
    assert len(gateway.received) == 15
