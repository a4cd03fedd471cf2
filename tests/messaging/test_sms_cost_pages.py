"""The SMS length checker and the costs page: what a text costs, and what the surveys cost."""

from __future__ import annotations

import uuid
from html import unescape

import pytest
from django.test import Client

from avis.messaging.conversations import receive_sms
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(org, settings) -> Client:  # noqa: ANN001
    settings.AVIS_SMS_PRICE_PER_SEGMENT = "0.05"
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def test_plain_text_is_one_gsm7_segment(manager) -> None:
    page = manager.get("/messaging/sms-length/", {"text": "Merci, notez-nous de 0 a 10"}).content.decode()
    assert 'data-field="encoding">GSM-7<' in page
    assert 'data-field="segments">1<' in page
    assert "UCS-2" not in page


def test_one_typographic_apostrophe_doubles_the_cost_and_the_gsm7_version_is_offered(manager) -> None:
    text = "Bonjour, c’est Assurances du Centre. " + "Votre avis compte pour nous. " * 3
    fragment = unescape(
        manager.get("/messaging/sms-length/", {"text": text}, HTTP_HX_REQUEST="true").content.decode()
    )
    assert "<html" not in fragment  # the live preview swaps the fragment only
    assert 'data-field="encoding">UCS-2<' in fragment
    assert 'data-field="segments">2<' in fragment
    assert "’" in fragment
    assert "c'est Assurances du Centre" in fragment  # the GSM-7 alternative
    assert "from 1 to 2 segments" in fragment or "de 1 à 2" in fragment


def test_use_the_gsm7_version_puts_it_in_the_box_at_one_segment(manager) -> None:  # noqa: ANN001
    text = "Bonjour, c’est Assurances du Centre. " + "Votre avis compte pour nous. " * 3
    checker = unescape(
        manager.get(
            "/messaging/sms-length/", {"text": text, "gsm7": "1"}, HTTP_HX_REQUEST="true"
        ).content.decode()
    )
    assert 'id="sms-checker"' in checker  # the whole checker comes back, the box rewritten
    assert ">Bonjour, c'est Assurances du Centre. Votre avis" in checker
    assert 'data-field="encoding">GSM-7<' in checker
    assert 'data-field="segments">1<' in checker


def test_costs_page_shows_cost_per_message_and_per_completed_response(org, api, manager, settings) -> None:
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", email=None)
    from avis.messaging.dispatch import deliver_message
    from avis.messaging.models import OutboundMessage

    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    for text in ["10", "oui", "5", "non"]:
        receive_sms(
            provider="simulator",
            provider_message_id=uuid.uuid4().hex,
            sender="+33612345678",
            recipient="",
            text=text,
        )
        for message in OutboundMessage.objects.filter(status="pending", kind="conversation"):
            deliver_message(message_id=message.id)
    sent = OutboundMessage.objects.filter(status="sent", channel="sms")
    total = sum(message.cost for message in sent)
    page = manager.get("/messaging/costs/").content.decode()
    assert f'data-field="cost">{total:.2f}<' in page
    assert 'data-field="per-response">' + f"{total:.4f}" in page  # one completed response
    assert 'data-field="per-message">' + f"{total / sent.count():.4f}" in page


def test_costs_page_needs_a_login(db) -> None:
    assert Client().get("/messaging/costs/").status_code == 302
