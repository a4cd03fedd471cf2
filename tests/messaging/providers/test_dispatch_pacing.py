"""Dispatch paces itself per provider, backs off on transient errors and gives up on permanent ones."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from avis.messaging.dispatch import MAX_ATTEMPTS, Delivery, deliver_message
from avis.messaging.models import OutboundMessage
from tests.helpers import open_all_day, post_interaction
from tests.messaging.providers.servers import Reply, gateway_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def six_sms(org, api):  # noqa: ANN001
    open_all_day(org.organisation)
    for i in range(6):
        post_interaction(api, f"p-{i}", customer=f"P-{i}", email=None, phone=f"06 12 34 56 {i:02d}")
    return list(OutboundMessage.objects.filter(kind="invitation").order_by("id"))


def test_messages_leave_no_faster_than_the_provider_rate(six_sms, gateway, settings) -> None:
    settings.AVIS_SMS_RATE_LIMIT = 10  # messages per second
    arrivals: list[float] = []

    def timed(request):  # noqa: ANN001, ANN202
        arrivals.append(time.monotonic())
        return gateway_api(request)

    gateway.answer = timed
    for message in six_sms:
        assert deliver_message(message_id=message.id) == Delivery.SENT
    assert len(arrivals) == 6
    # Four gaps of 1/10 s after the first message (which also opens the connection).
    assert arrivals[-1] - arrivals[1] >= 0.3  # unpaced, the four would take a few ms


def test_transient_errors_are_retried_later_and_later_then_given_up(six_sms, gateway) -> None:
    message = six_sms[0]
    gateway.script.extend(Reply(503, {"error": "busy"}) for _ in range(MAX_ATTEMPTS))
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        message.refresh_from_db()
        outcome = deliver_message(message_id=message.id, now=message.not_before)
        if attempt < MAX_ATTEMPTS:
            assert outcome == Delivery.RETRY
            after = OutboundMessage.objects.get(id=message.id)
            waits.append((after.not_before - message.not_before).total_seconds())
    assert outcome == Delivery.FAILED
    assert waits == sorted(waits) and waits[0] == 30 and waits[-1] > waits[0]
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(gateway.received) == MAX_ATTEMPTS


def test_permanent_error_is_never_retried(six_sms, gateway) -> None:
    gateway.script.append(Reply(422, {"error": "invalid text"}))
    assert deliver_message(message_id=six_sms[0].id) == Delivery.FAILED
    assert deliver_message(message_id=six_sms[0].id) == Delivery.NOT_MINE
    assert len(gateway.received) == 1


def test_each_sms_records_its_segments_and_cost(six_sms, gateway, settings) -> None:
    settings.AVIS_SMS_PRICE_PER_SEGMENT = "0.045"
    deliver_message(message_id=six_sms[0].id)
    message = OutboundMessage.objects.get(id=six_sms[0].id)
    assert message.segments >= 1
    assert message.cost == message.segments * Decimal("0.045")
    assert message.body_text.startswith("Recommanderiez-vous")
