"""Customers drawn for a barometer: the flow's surveys wait until its fieldwork ends, and say why."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from avis.customers.models import Customer
from avis.governance.queries import explain
from avis.governance.services import record_study_contacts
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.interactions.services import record_study_interactions
from tests.factories import interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)


def sample(org, customer: Customer, ends: datetime) -> None:  # noqa: ANN001
    (interaction,) = record_study_interactions(
        organisation=org.organisation,
        touchpoint=org.touchpoints["branch.visit"],
        customer_ids=[customer.id],
        key="barometer-1-wave-1",
        at=START,
    )
    record_study_contacts(
        organisation=org.organisation,
        interactions=[interaction],
        channels={interaction.id: "email"},
        planned={interaction.id: START},
        probabilities={interaction.id: 0.25},
        fieldwork_ends_at=ends,
        now=START,
        context={"barometer": 1, "wave": 1},
    )


def decide(org, external_id: str, at: datetime):  # noqa: ANN001, ANN201
    item = InteractionIn(**interaction_payload(external_id, occurred_at=at))
    (result,) = ingest_interactions(organisation=org.organisation, items=[item], now=at)
    return result.decision


@pytest.mark.clock
def test_transactional_survey_of_a_sampled_customer_waits_for_the_end_of_fieldwork(org) -> None:
    open_all_day(org.organisation, quarantine_days=0, windows=[{"max": 5, "days": 30}])
    first = decide(org, "before", START - timedelta(days=40))
    customer = Customer.objects.get(id=first.customer_id)
    ends = START + timedelta(days=14)
    sample(org, customer, ends)
    held = decide(org, "during", START + timedelta(days=3))
    assert (held.outcome, held.reason) == ("skip", "barometer_fieldwork")
    assert "16/03/2026" in explain(held, "fr")
    assert "barometer" in explain(held, "en")
    after = decide(org, "after", ends + timedelta(hours=1))
    assert after.outcome == "invite"


def test_the_barometer_invitation_counts_toward_contact_pressure(org) -> None:
    open_all_day(org.organisation, quarantine_days=0, windows=[{"max": 1, "days": 90}])
    first = decide(org, "before", START - timedelta(days=200))
    customer = Customer.objects.get(id=first.customer_id)
    sample(org, customer, START + timedelta(days=1))
    later = decide(org, "later", START + timedelta(days=10))
    assert (later.outcome, later.reason) == ("skip", "cap_reached")
