"""Property: whatever the stream of interactions, opt-outs and policy changes, no history breaks its rules."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avis.customers.services import opt_out_customer
from avis.governance.models import Decision
from avis.governance.queries import contact_rule_breaches
from avis.governance.services import update_policy
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from tests.factories import interaction_payload

pytestmark = pytest.mark.django_db
START = datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
TOUCHPOINTS = ["call_center.call", "branch.visit", "claim.settled"]
CUSTOMERS = ["K-1", "K-2", "K-3"]
_numbers = itertools.count()

policies = st.fixed_dictionaries(
    {
        "windows": st.lists(
            st.fixed_dictionaries({"max": st.integers(1, 3), "days": st.integers(1, 60)}),
            min_size=1,
            max_size=3,
        ),
        "quarantine_days": st.integers(0, 10),
        "touchpoint_gaps": st.dictionaries(st.sampled_from(TOUCHPOINTS), st.integers(1, 30), max_size=2),
        "priorities": st.dictionaries(st.sampled_from(TOUCHPOINTS), st.integers(0, 9), max_size=2),
        "send_on_sunday": st.booleans(),
    }
)
interaction = st.tuples(
    st.just("interaction"),
    st.sampled_from(CUSTOMERS),
    st.sampled_from(TOUCHPOINTS),
    st.booleans(),  # contact only
    st.integers(0, 14 * 24),  # hours since the previous event
)
opt_out = st.tuples(st.just("opt_out"), st.sampled_from(CUSTOMERS), st.sampled_from(["all", "email", "sms"]))
policy_change = st.tuples(st.just("policy"), policies)
events = st.lists(
    st.one_of(interaction, interaction, interaction, opt_out, policy_change), min_size=5, max_size=25
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first_policy=policies, stream=events)
def test_no_customer_history_ever_breaks_the_policy_in_force(org, first_policy, stream) -> None:  # noqa: ANN001
    # One organisation for every example (the database is not rolled back between
    # them): each example has customers of its own.
    organisation = org.organisation
    example = next(_numbers)
    seen: set[str] = set()
    update_policy(organisation=organisation, changes={"freshness_hours": 0, **first_policy})
    moment = START
    refused: dict[str, set[str]] = {}
    surveyed_after_opt_out = []
    for number, event in enumerate(stream):
        if event[0] == "policy":
            update_policy(organisation=organisation, changes=event[1])
        elif event[0] == "opt_out":
            customer = f"{example}-{event[1]}"
            if customer in seen:
                opt_out_customer(
                    organisation=organisation, external_id=customer, channel=event[2], source="t"
                )
                refused.setdefault(customer, set()).add(event[2])
        else:
            _, customer, touchpoint, contact_only, hours = event
            customer = f"{example}-{customer}"
            seen.add(customer)
            moment += timedelta(hours=hours)
            item = interaction_payload(
                f"evt-{example}-{number}",
                customer=customer,
                touchpoint=touchpoint,
                occurred_at=moment,
                contact_only=contact_only,
            )
            (result,) = ingest_interactions(
                organisation=organisation, items=[InteractionIn(**item)], now=moment
            )
            decision = result.decision
            if decision.outcome != "skip" and (
                "all" in refused.get(customer, set()) or decision.channel in refused.get(customer, set())
            ):
                surveyed_after_opt_out.append(decision.id)
    assert contact_rule_breaches(organisation=organisation) == []
    assert surveyed_after_opt_out == []
    contact_only = Decision.objects.filter(organisation=organisation, interaction__contact_only=True)
    assert not contact_only.exclude(reason="contact_only").exists()
