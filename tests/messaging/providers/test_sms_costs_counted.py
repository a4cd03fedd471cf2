"""Every SMS recorded as sent counts its segments and cost on the costs page, whichever path sent it:
a real send through the HTTP gateway, history recorded without sending (the demo), or rows
recorded before history was priced (the migration's backfill)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from avis.messaging.dispatch import backfill_sms_costs, record_historical_delivery
from avis.messaging.models import OutboundMessage
from avis.messaging.sms_encoding import measure_sms
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

PRICE = Decimal("0.05")


def _costs_row(org) -> dict[str, str]:  # noqa: ANN001
    """The costs page's first month, as the manager reads it."""
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    page = client.get("/messaging/costs/").content.decode()
    return dict(re.findall(r'data-field="(month-\w+)">([^<]*)<', page))


@pytest.fixture
def priced(settings) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PRICE_PER_SEGMENT = str(PRICE)


@pytest.mark.django_db(transaction=True)
@time_machine.travel("2026-11-10 10:00 +01:00", tick=False)
def test_an_sms_sent_through_the_gateway_shows_its_segments_and_cost(org, api, gateway, priced) -> None:
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-cost-1", email=None, phone="06 12 34 56 78").status_code == 200
    (request,) = gateway.received
    segments = measure_sms(request.json()["messages"][0]["text"]).segments
    assert segments >= 1
    assert _costs_row(org) == {
        "month-messages": "1",
        "month-segments": str(segments),
        "month-cost": f"{PRICE * segments:.2f}",
    }


@pytest.mark.django_db
def test_history_recorded_without_sending_is_priced_like_a_send(org, api, priced) -> None:
    with time_machine.travel("2026-10-05 10:00 +01:00", tick=False):
        open_all_day(org.organisation)
        post_interaction(api, "evt-cost-2", email=None, phone="06 12 34 56 78")
    with time_machine.travel("2026-11-10 10:00 +01:00", tick=False):
        assert record_historical_delivery(organisation=org.organisation, until=timezone.now()) == 1
    message = OutboundMessage.objects.get()
    assert message.body_text.startswith("Recommanderiez-vous Assurances du Centre")  # what the phone read
    segments = measure_sms(message.body_text).segments
    assert _costs_row(org) == {
        "month-messages": "1",
        "month-segments": str(segments),
        "month-cost": f"{PRICE * segments:.2f}",
    }


def _recorded_unpriced(org, api, event: str) -> None:  # noqa: ANN001
    """What history loading wrote until now: an SMS sent, with no text, no segments, no cost."""
    with time_machine.travel("2026-10-05 10:00 +01:00", tick=False):
        open_all_day(org.organisation)
        post_interaction(api, event, email=None, phone="06 12 34 56 78")
        OutboundMessage.objects.update(status="sent", sent_at=OutboundMessage.objects.get().not_before)


@pytest.mark.django_db
def test_sends_recorded_at_zero_before_the_fix_are_priced_by_the_backfill(org, api, priced) -> None:
    _recorded_unpriced(org, api, "evt-cost-4")
    assert _costs_row(org)["month-segments"] == "0"
    assert backfill_sms_costs() == 1
    message = OutboundMessage.objects.get()
    assert message.body_text.startswith("Recommanderiez-vous")
    segments = measure_sms(message.body_text).segments
    assert _costs_row(org) == {
        "month-messages": "1",
        "month-segments": str(segments),
        "month-cost": f"{PRICE * segments:.2f}",
    }


@pytest.mark.django_db
def test_migrate_prices_what_history_loading_left_unpriced(org, api, priced) -> None:
    _recorded_unpriced(org, api, "evt-cost-5")
    call_command("migrate", interactive=False, verbosity=0)
    message = OutboundMessage.objects.get()
    assert message.segments == measure_sms(message.body_text).segments > 0
    assert _costs_row(org)["month-cost"] == f"{PRICE * message.segments:.2f}"
