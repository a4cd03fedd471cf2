"""A small customer base for barometer tests: regions, segments, start dates, some opted out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from avis.accounts.models import Organisation
from avis.barometers.models import Barometer
from avis.barometers.services import create_barometer
from avis.customers.models import Customer
from avis.interactions.services import create_touchpoint
from avis.surveys.services import create_standard_survey


def add_customers(
    organisation: Organisation, rows: list[dict[str, Any]], *, prefix: str = "K"
) -> list[Customer]:
    customers = [
        Customer(
            organisation=organisation,
            external_id=f"{prefix}-{index}",
            email=row.pop("email", f"{prefix.lower()}{index}@example.fr"),
            phone=row.pop("phone", ""),
            attributes=row,
        )
        for index, row in enumerate(rows)
    ]
    return Customer.objects.bulk_create(customers)


def region_base(organisation: Organisation, per_region: dict[str, int]) -> list[Customer]:
    rows = []
    for region, count in per_region.items():
        for index in range(count):
            rows.append(
                {
                    "region": region,
                    "segment": "pro" if index % 4 == 0 else "particulier",
                    "customer_since": f"{2010 + index % 15}-06-01",
                    "contract": "active",
                }
            )
    return add_customers(organisation, rows)


def make_barometer(organisation: Organisation, *, now: datetime | None = None, **changes: Any) -> Barometer:
    touchpoint = create_touchpoint(
        organisation=organisation,
        code=changes.pop("code", "barometer.relation"),
        name_fr="Baromètre relation",
        name_en="Relationship barometer",
    )
    survey = create_standard_survey(organisation=organisation, touchpoint=touchpoint, ask_effort=True)
    values: dict[str, Any] = {
        "name_fr": "Baromètre annuel",
        "name_en": "Yearly barometer",
        "survey_id": survey.id,
        "strata": [{"attribute": "region"}],
        "scope": [{"attribute": "contract", "operator": "equals", "value": "active"}],
        "margin": 20.0,
        "mode": "email",
    }
    return create_barometer(organisation=organisation, **(values | changes), now=now)
