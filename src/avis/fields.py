"""Field types with the ranges avis can store, declared in the OpenAPI and enforced on input.

A date outside 1900–2200 or a time with a UTC offset is a 422 naming the field, never a 500 deeper
down (Python's datetime overflows near year 1; SQLite and PostgreSQL integers at 2**63).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
_RANGE = {"formatMinimum": "1900-01-01", "formatMaximum": "2200-12-31"}


def _date_in_range(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError("must be between 1900-01-01 and 2200-12-31")
    return value


def _local_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError(
            "a local time of day, HH:MM, without an offset (the organisation's time zone applies)"
        )
    return value


Day = Annotated[
    date,
    AfterValidator(_date_in_range),
    WithJsonSchema({"type": "string", "format": "date", **_RANGE}),
]
Instant = Annotated[
    datetime,
    AfterValidator(_date_in_range),
    WithJsonSchema({"type": "string", "format": "date-time", **_RANGE}),
]
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
LocalTime = Annotated[
    time,
    AfterValidator(_local_time),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN, "examples": ["09:00"]}),
]
# Counts and ids fit in a 64-bit column; most fields declare a tighter bound of their own.
BigInt = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
