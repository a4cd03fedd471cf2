"""How interactions get in: the ready-to-copy examples the touchpoint page and the docs show.

The ``curl`` call for the API, a file to fill in for the import, and the
signed webhook's address, each built from what the API, the importer and the
webhook really take, so the examples can't drift from them.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.urls import reverse

from avis.interactions.imports import InteractionImporter
from avis.interactions.models import InboundWebhook, Touchpoint


def webhook_url(webhook: InboundWebhook) -> str:
    """The public address a sender posts one interaction to (``/batch`` after it for many)."""
    path = reverse("api:post_signed_interaction", kwargs={"token": webhook.token})
    return settings.AVIS_BASE_URL.rstrip("/") + path


def _example_phone(region: str) -> str:
    """A mobile number as people of the organisation's country write it (the numbering plan's own example)."""
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return "+33 6 12 34 56 78"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def example_interaction(*, touchpoint: Touchpoint, now: datetime) -> dict[str, Any]:
    """One interaction of this touchpoint as the API takes it, for the examples shown to integrators."""
    organisation = touchpoint.organisation
    zone = ZoneInfo(organisation.default_time_zone)
    return {
        "external_id": "crm-2026-000123",
        "touchpoint": touchpoint.code,
        "occurred_at": now.astimezone(zone).replace(second=0, microsecond=0).isoformat(),
        "customer": {
            "external_id": "C-8812",
            "phone": _example_phone(organisation.default_region),
            "email": "marie.dupont@example.fr",
            "locale": organisation.default_locale,
            "time_zone": organisation.default_time_zone,
        },
        "agent": "A-17",
        "agent_name": "Julie Martin",
        "team": "lyon",
    }


def curl_example(*, touchpoint: Touchpoint, now: datetime) -> str:
    """The ``curl`` call that records one interaction of this touchpoint, ready to paste in a shell."""
    url = settings.AVIS_BASE_URL.rstrip("/") + reverse("api:post_interaction")
    body = json.dumps(example_interaction(touchpoint=touchpoint, now=now), indent=2, ensure_ascii=False)
    return (
        f"curl -s {url} \\\n"
        '  -H "Authorization: Bearer $AVIS_KEY" -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'"
    )


def csv_template(*, touchpoint: Touchpoint, now: datetime) -> str:
    """A file of past interactions to fill in, with the columns the import recognises and one example row.

    Semicolons and a byte-order mark for a French organisation: that is what
    Excel in French opens as columns and accents.
    """
    example = example_interaction(touchpoint=touchpoint, now=now)
    customer = example["customer"]
    zone = ZoneInfo(touchpoint.organisation.default_time_zone)
    cells = {
        "external_id": example["external_id"],
        "touchpoint": touchpoint.code,
        "occurred_at": now.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "customer_id": customer["external_id"],
        "phone": customer["phone"],
        "email": customer["email"],
        "locale": customer["locale"],
        "time_zone": customer["time_zone"],
        "agent": example["agent"],
        "agent_name": example["agent_name"],
        "team": example["team"],
        "team_name": "Lyon",
    }
    names = [field.name for field in InteractionImporter.fields]
    french = touchpoint.organisation.default_locale == "fr"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if french else ",", lineterminator="\r\n")
    writer.writerow(names)
    writer.writerow([cells.get(name, "") for name in names])
    return ("\ufeff" if french else "") + out.getvalue()


def signed_example(*, touchpoint: Touchpoint, url: str, now: datetime) -> str:
    """A shell script that signs one interaction of this touchpoint and posts it to the webhook."""
    example = example_interaction(touchpoint=touchpoint, now=now)
    body = json.dumps(example, ensure_ascii=False, separators=(",", ":"))
    return (
        f"body='{body}'\n"
        "ts=$(date +%s)\n"
        'sig=$(printf \'%s.%s\' "$ts" "$body" \\\n'
        "  | openssl dgst -sha256 -hmac \"$AVIS_WEBHOOK_SECRET\" | sed 's/^.* //')\n"
        f"curl -s {url} -H 'Content-Type: application/json' \\\n"
        '  -H "X-Avis-Timestamp: $ts" -H "X-Avis-Signature: sha256=$sig" -d "$body"'
    )
