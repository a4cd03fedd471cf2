"""Build organisations the way a real one is set up: through avis's own services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from avis.accounts.models import Organisation, Role
from avis.accounts.services import add_member, create_api_key, create_organisation
from avis.interactions.models import Touchpoint
from avis.interactions.services import create_touchpoint
from avis.surveys.services import create_standard_survey

PASSWORD = "correct horse battery staple"  # noqa: S105


@dataclass
class OrganisationSetup:
    organisation: Organisation
    api_key: str
    touchpoints: dict[str, Touchpoint]
    admin_email: str
    manager_email: str


def make_organisation(name: str, *, slug: str | None = None) -> OrganisationSetup:
    organisation = create_organisation(name=name, slug=slug)
    admin = f"admin@{organisation.slug}.example"
    manager = f"manager@{organisation.slug}.example"
    add_member(organisation=organisation, email=admin, role=Role.ADMIN, password=PASSWORD)
    add_member(organisation=organisation, email=manager, role=Role.MANAGER, password=PASSWORD)
    touchpoints = {}
    for code, fr, en in [
        ("call_center.call", "Appel au service client", "Call to customer service"),
        ("branch.visit", "Visite en agence", "Branch visit"),
        ("claim.settled", "Sinistre réglé", "Claim settled"),
    ]:
        touchpoints[code] = create_touchpoint(organisation=organisation, code=code, name_fr=fr, name_en=en)
        create_standard_survey(organisation=organisation, touchpoint=touchpoints[code])
    _, key = create_api_key(organisation=organisation, name="tests")
    return OrganisationSetup(organisation, key, touchpoints, admin, manager)


def interaction_payload(
    external_id: str,
    *,
    customer: str = "C-1",
    touchpoint: str = "call_center.call",
    occurred_at: datetime | str = "2026-03-03T11:00:00+01:00",
    email: str | None = "marie.dupont@example.fr",
    phone: str | None = "06 12 34 56 78",
    locale: str = "fr",
    agent: str | None = "A-7",
    team: str | None = "lyon",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "touchpoint": touchpoint,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat(),
        "customer": {
            "external_id": customer,
            "email": email,
            "phone": phone,
            "locale": locale,
            "time_zone": "Europe/Paris",
        },
        "agent": agent,
        "agent_name": "Julie Martin" if agent else None,
        "team": team,
        **extra,
    }
