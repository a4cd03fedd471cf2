"""The frame of a wave: customers in scope, their stratum, and why governance leaves some out."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from avis.barometers.frame import build_frame
from avis.customers.services import opt_out_customer
from avis.governance.services import current_policy, record_past_contacts, update_policy
from avis.interactions.services import record_study_interactions
from tests.barometers.setup import add_customers, make_barometer, region_base

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
AT = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)


def frame_of(barometer, on: date | None = None, at: datetime = AT):  # noqa: ANN001, ANN201
    on = on or AT.date()
    policy = current_policy(organisation=barometer.organisation)
    return build_frame(barometer=barometer, policy=policy, on=on, at=at)


def test_customers_out_of_scope_are_not_in_the_frame_and_strata_are_counted(org) -> None:
    region_base(org.organisation, {"north": 6, "south": 4})
    add_customers(org.organisation, [{"region": "north", "contract": "ended"}], prefix="X")
    frame = frame_of(make_barometer(org.organisation))
    assert [(s.key, s.in_scope, s.eligible) for s in frame.strata] == [("north", 6, 6), ("south", 4, 4)]
    assert frame.exclusions == {}
    assert sorted(len(ids) for ids in frame.ids) == [4, 6]


def test_governance_exclusions_are_counted_by_reason(org) -> None:
    customers = region_base(org.organisation, {"north": 6, "south": 4})
    update_policy(
        organisation=org.organisation,
        changes={"exclusions": [{"attribute": "employee", "operator": "is_true"}], "quarantine_days": 30},
    )
    opt_out_customer(organisation=org.organisation, external_id=customers[0].external_id, source="test")
    customers[1].attributes["employee"] = "oui"
    customers[1].save()
    customers[2].email = ""
    customers[2].save()
    # Surveyed ten days before the draw: in quarantine.
    touchpoint = org.touchpoints["call_center.call"]
    interactions = record_study_interactions(
        organisation=org.organisation,
        touchpoint=touchpoint,
        customer_ids=[customers[3].id],
        key="past",
        at=AT - timedelta(days=10),
    )
    record_past_contacts(organisation=org.organisation, interactions=interactions)
    # A customer without a region is in scope but in no stratum.
    add_customers(org.organisation, [{"contract": "active"}], prefix="Y")
    frame = frame_of(make_barometer(org.organisation))
    assert frame.exclusions == {
        "no_stratum": 1,
        "opted_out": 1,
        "excluded": 1,
        "no_channel": 1,
        "quarantine": 1,
    }
    north = frame.strata[0]
    assert (north.key, north.in_scope, north.eligible) == ("north", 6, 2)
    assert set(frame.ids[0].tolist()) == {c.id for c in customers[4:6]}
    assert frame.in_scope == 11


def test_tenure_bands_and_numbers_make_strata(org) -> None:
    add_customers(
        org.organisation,
        [
            {"contract": "active", "customer_since": "2025-06-01", "age": 30},
            {"contract": "active", "customer_since": "2022-06-01", "age": "45"},
            {"contract": "active", "customer_since": "2012-06-01", "age": 70},
            {"contract": "active", "customer_since": "not a date", "age": "old"},
        ],
    )
    barometer = make_barometer(
        org.organisation,
        strata=[
            {"attribute": "customer_since", "bands": [2, 5], "years_since": True},
            {"attribute": "age", "bands": [40, 65]},
        ],
    )
    frame = frame_of(barometer)
    assert sorted(s.key for s in frame.strata) == ["2–5 × 40–65", "<2 × <40", "≥5 × ≥65"]
    assert frame.exclusions == {"no_stratum": 1}


def test_scope_rules_read_numbers_as_numbers_and_words_without_case(org) -> None:
    add_customers(
        org.organisation,
        [
            {"region": "north", "contract": "Active ", "premium": 120},
            {"region": "north", "contract": "active", "premium": "80.5"},
            {"region": "north", "contract": "active", "premium": "n/a"},
        ],
    )
    barometer = make_barometer(
        org.organisation,
        scope=[
            {"attribute": "contract", "operator": "equals", "value": "active"},
            {"attribute": "premium", "operator": "greater_than", "value": 100},
        ],
    )
    assert frame_of(barometer).in_scope == 1


def test_a_frame_taken_as_of_a_past_moment_reads_the_ledger_as_it_stood_then(org) -> None:
    """A wave drawn as of a past date (history loaded afterwards, the demo's past waves) does not
    count the contacts decided after it toward the quarantine or the caps."""
    customers = region_base(org.organisation, {"north": 3})
    update_policy(organisation=org.organisation, changes={"quarantine_days": 30})
    for days, customer in ((10, customers[0]), (-5, customers[1])):  # before the draw, after it
        interactions = record_study_interactions(
            organisation=org.organisation,
            touchpoint=org.touchpoints["call_center.call"],
            customer_ids=[customer.id],
            key=f"contact-{days}",
            at=AT - timedelta(days=days),
        )
        record_past_contacts(organisation=org.organisation, interactions=interactions)
    frame = frame_of(make_barometer(org.organisation))
    assert frame.exclusions == {"quarantine": 1}
    assert set(frame.ids[0].tolist()) == {customers[1].id, customers[2].id}
