"""Business-hours arithmetic: when a deadline counted in opening hours falls.

Pure functions over an organisation's opening hours and its country's public
holidays (the `holidays` package), so an SLA of 8 hours opened on Friday at
17:00 falls on Monday — or Tuesday when Monday is a holiday.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from avis.governance.engine import is_public_holiday

# Monday–Friday, 09:00–18:00 when an organisation has not said otherwise.
DEFAULT_HOURS: dict[str, list[str]] = {str(day): ["09:00", "18:00"] for day in range(5)}


def is_holiday(day: date, country: str) -> bool:
    """The same calendar governance keeps customers' quiet days by."""
    return is_public_holiday(day, country.upper())


def _opening(day: date, hours: Mapping[str, Sequence[str]], country: str) -> tuple[time, time] | None:
    span = hours.get(str(day.weekday()))
    if not span or is_holiday(day, country):
        return None
    return time.fromisoformat(span[0]), time.fromisoformat(span[1])


def add_business_hours(
    start: datetime,
    hours_to_add: float,
    *,
    opening_hours: Mapping[str, Sequence[str]],
    country: str,
    time_zone: str,
) -> datetime:
    """``start`` plus so many open hours, in the organisation's local calendar."""
    zone = ZoneInfo(time_zone)
    local = start.astimezone(zone)
    remaining = timedelta(hours=hours_to_add)
    day = local.date()
    for _ in range(3660):  # ten years of closed days would be a misconfiguration
        span = _opening(day, opening_hours, country)
        if span is not None:
            opens = datetime.combine(day, span[0], tzinfo=zone)
            closes = datetime.combine(day, span[1], tzinfo=zone)
            begin = max(opens, local)
            if begin < closes:
                if begin + remaining <= closes:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
        local = datetime.combine(day, time(0), tzinfo=zone)
    raise ValueError("No opening hours in the calendar.")


def next_waking_open_moment(
    at: datetime,
    *,
    opening_hours: Mapping[str, Sequence[str]],
    country: str,
    time_zone: str,
    earliest: time,
    latest: time,
) -> datetime:
    """``at`` if the organisation is open then and it is between ``earliest`` and ``latest`` local
    time; else the next moment both hold. A staff text waits for it: nobody is woken for a case
    the SLA clock (stopped while closed) does not yet count."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    day = local.date()
    for _ in range(3660):
        span = _opening(day, opening_hours, country)
        if span is not None:
            begin = datetime.combine(day, max(span[0], earliest), tzinfo=zone)
            end = datetime.combine(day, min(span[1], latest), tzinfo=zone)
            if begin < end and local < end:
                return max(begin, local)
        day += timedelta(days=1)
    raise ValueError("No opening hours in the calendar.")
