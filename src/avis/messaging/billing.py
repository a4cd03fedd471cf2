"""What an SMS costs: the segments the operator counts, times the configured price per segment."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from avis.customers.models import Channel
from avis.messaging.sms_encoding import measure_sms


def segments_and_cost(channel: str, text: str) -> tuple[int, Decimal]:
    """Segments and price of an SMS as the operator counts them; email costs nothing per message."""
    if channel != Channel.SMS:
        return 0, Decimal(0)
    segments = _segments(text)
    return segments, price_per_segment() * segments


@lru_cache(maxsize=1024)
def _segments(text: str) -> int:
    """Invitations of one survey in one language read the same: measured once."""
    return measure_sms(text).segments


def price_per_segment() -> Decimal:
    try:
        return Decimal(settings.AVIS_SMS_PRICE_PER_SEGMENT)
    except InvalidOperation as exc:
        raise ImproperlyConfigured("AVIS_SMS_PRICE_PER_SEGMENT must be a decimal number") from exc
