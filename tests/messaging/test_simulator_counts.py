"""The simulator lists a phone once a text has reached it, counts what its thread shows, and never
shows an empty bubble, history recorded without sending (the demo's) included."""

from __future__ import annotations

import re
import uuid

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from avis.messaging.conversations import receive_sms
from avis.messaging.dispatch import record_historical_delivery
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db

PHONE = "+33612345678"


@pytest.fixture
def manager(org, api, settings) -> Client:  # noqa: ANN001
    settings.AVIS_SMS_PROVIDER = "simulator"
    with time_machine.travel("2026-10-05 10:00 +01:00", tick=False):
        open_all_day(org.organisation)
        # Outside a transactional test nothing leaves on commit: the invitation waits in the outbox.
        assert post_interaction(api, "evt-sim-1", email=None, phone="06 12 34 56 78").status_code == 200
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def _phones(page: str) -> list[str]:
    return re.findall(r'<a href="\?phone=[^"]*"[^>]*>([^<]*<span class="muted">\(\d+\)</span>)', page)


def _bubbles(page: str) -> list[str]:
    lines = re.findall(r'<li class="(?:to|from)-customer">\s*<p>(.*?)</p>', page, re.S)
    return [text.strip() for text in lines]


def test_a_text_still_in_the_outbox_lists_no_phone(manager) -> None:
    page = manager.get("/messaging/simulator/").content.decode()
    assert _phones(page) == []
    assert "No text sent through the simulator yet." in page or "Aucun SMS" in page


def test_history_recorded_without_sending_shows_the_text_and_counts_it(org, manager) -> None:
    with time_machine.travel("2026-11-10 10:00 +01:00", tick=False):
        record_historical_delivery(organisation=org.organisation, until=timezone.now())
    page = manager.get("/messaging/simulator/").content.decode()
    assert _phones(page) == [f'{PHONE} <span class="muted">(1)</span>']
    (bubble,) = _bubbles(page)
    assert bubble.startswith("Recommanderiez-vous Assurances du Centre")
    assert "No message yet" not in page and "Aucun message" not in page
    receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=PHONE, recipient="", text="9"
    )
    page = manager.get("/messaging/simulator/").content.decode()
    assert _phones(page) == [f'{PHONE} <span class="muted">(2)</span>']
    assert all(_bubbles(page))
