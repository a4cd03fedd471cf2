"""How a customer's phone, email, locale and time zone are read, whatever door they came in by.

The API, the file import and the demo all write customers; they read a
number or an address the same way, through these functions.
"""

from __future__ import annotations

import zoneinfo
from functools import cache, lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

SUPPORTED_LOCALES = ("fr", "en")


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def normalise_phone(raw: str, *, region: str) -> str:
    """E.164 form of a phone number, reading national numbers in the organisation's region."""
    e164, problem = parse_phone(raw, region)
    if problem:
        raise ValueError(problem)
    return e164


# Parsing a number costs some 50 µs and an email check 15 µs, more than storing
# the interaction; both are pure, and the same customers come back batch after
# batch, so each process remembers the last few tens of thousands.
@lru_cache(maxsize=65_536)
def parse_phone(raw: str, region: str) -> tuple[str, str]:
    """The E.164 number and an empty problem, or an empty number and the problem."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return "", f"{raw!r} is not a phone number"
    if not phonenumbers.is_valid_number(number):
        return "", f"{raw!r} is not a valid phone number for region {region}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


@lru_cache(maxsize=65_536)
def is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def normalise_locale(raw: str | None, *, default: str) -> str:
    if not raw:
        return default
    primary = raw.replace("_", "-").split("-")[0].lower()
    return primary if primary in SUPPORTED_LOCALES else default
