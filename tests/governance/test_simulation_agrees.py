"""The simulator decides as live governance does: a policy tried on history behaves as it will once on."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from avis.customers.services import opt_out_customer
from avis.governance.history import history_from_database, read_history
from avis.governance.models import Decision
from avis.governance.services import update_policy
from avis.governance.simulation import (
    Sampling,
    load_policy,
    simulate,
)
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from tests.factories import interaction_payload

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
TOUCHPOINTS = ["call_center.call", "call_center.call", "branch.visit", "claim.settled"]


def _history(count: int, customers: int, seed: int = 7) -> list[dict]:
    """Interactions over two months at all hours (so some are deferred, some go stale), oldest first."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)
    moments = sorted(start + timedelta(minutes=rng.randrange(60 * 24 * 60)) for _ in range(count))
    people = {}
    for number in range(customers):
        reach = rng.random()
        people[number] = {
            "email": f"client{number}@example.fr" if reach > 0.25 else None,
            "phone": f"06 12 34 {number // 100:02d} {number % 100:02d}" if reach < 0.85 else None,
            "segment": "vip" if number % 9 == 0 else "standard",
        }
    rows = []
    for index, at in enumerate(moments):
        number = rng.randrange(customers)
        person = people[number]
        payload = interaction_payload(
            f"EV-{index:04d}",
            customer=f"C-{number}",
            touchpoint=rng.choice(TOUCHPOINTS),
            occurred_at=at,
            email=person["email"],
            phone=person["phone"],
            agent=f"A-{rng.randrange(5)}",
            team=rng.choice(["lyon", "paris"]),
            contact_only=rng.random() < 0.08,
        )
        payload["customer"]["attributes"] = {"segment": person["segment"]}
        rows.append(payload)
    return rows


def _as_csv(payloads: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["external_id", "touchpoint", "occurred_at", "customer_id", "agent", "team", "email", "phone",
         "time_zone", "contact_only", "segment"]
    )  # fmt: skip
    for p in payloads:
        c = p["customer"]
        writer.writerow(
            [p["external_id"], p["touchpoint"], p["occurred_at"], c["external_id"], p["agent"], p["team"],
             c["email"] or "", c["phone"] or "", c["time_zone"], "yes" if p["contact_only"] else "",
             c["attributes"]["segment"]]
        )  # fmt: skip
    return out.getvalue()


def _simulated(org, history) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    verdicts: dict[str, tuple[str, str]] = {}
    simulate(
        history=history,
        policies=[load_policy(spec="current", organisation=org.organisation)],
        draw_salt=org.organisation.slug,
        sampling=Sampling(org.organisation),
        on_decision=lambda _policy, key, outcome, reason: verdicts.__setitem__(key, (outcome, reason)),
    )
    return verdicts


def test_simulator_gives_every_interaction_the_live_outcome_and_reason(org) -> None:
    update_policy(
        organisation=org.organisation,
        changes={
            "windows": [{"max": 1, "days": 7}, {"max": 3, "days": 60}],
            "quarantine_days": 3,
            "touchpoint_gaps": {"branch.visit": 20},
            "priorities": {"claim.settled": 10},
            "exclusions": [{"attribute": "segment", "operator": "equals", "value": "vip"}],
            "freshness_hours": 24,
            "default_sampling_rate": 0.8,
            "send_from": time(10),
            "send_until": time(19),
            "channel_sending": {"sms": {"from": "11:00", "until": "18:00"}},
        },
    )
    payloads = _history(400, customers=40)
    for batch in range(0, len(payloads), 50):  # history loaded in batches, as the demo and imports do
        items = [InteractionIn(**p) for p in payloads[batch : batch + 50]]
        if batch == 200:
            opt_out_customer(organisation=org.organisation, external_id="C-3", channel="email")
        ingest_interactions(organisation=org.organisation, items=items, replay=True)
    live = {
        key: (outcome, reason)
        for key, outcome, reason in Decision.objects.filter(organisation=org.organisation).values_list(
            "interaction__external_id", "outcome", "reason"
        )
    }
    reasons = {reason for _, reason in live.values()}
    # The history exercises the rules, not just the happy path.
    assert {"eligible", "quiet_hours", "cap_reached", "excluded", "contact_only", "not_sampled"} <= reasons

    rows = list(read_history(io.StringIO(_as_csv(payloads))))
    # The opt-out came after the 200th interaction: the CSV says so from there on.
    rows = [
        row
        if index < 200 or row.customer != "C-3"
        else type(row)(**{**_fields(row), "refused": frozenset({"email"})})
        for index, row in enumerate(rows)
    ]
    simulated = _simulated(org, rows)
    differing = {key: (live[key], simulated.get(key)) for key in live if live[key] != simulated.get(key)}
    assert not differing
    assert len(simulated) == len(live) == 400

    # The organisation's own interactions, read back from the database, replay the same way.
    start, end = datetime(2026, 3, 1, tzinfo=PARIS), datetime(2026, 6, 1, tzinfo=PARIS)
    from_database = _simulated(
        org, history_from_database(organisation=org.organisation, since=start, until=end)
    )
    changed = {k for k in live if live[k] != from_database.get(k)}
    # Only the customer who opted out later may differ: the database knows when the opt-out came.
    assert changed <= {p["external_id"] for p in payloads if p["customer"]["external_id"] == "C-3"}


def _fields(row) -> dict:  # noqa: ANN001
    return {name: getattr(row, name) for name in row.__slots__}


def test_simulation_writes_nothing(org) -> None:
    payloads = _history(50, customers=10)
    before = Decision.objects.count()
    verdicts = _simulated(org, read_history(io.StringIO(_as_csv(payloads))))
    assert len(verdicts) == 50
    assert Decision.objects.count() == before
