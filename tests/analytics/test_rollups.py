"""The daily roll-ups, updated answer by answer, always equal a recomputation from the raw answers."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avis.analytics.models import ROLLUP_MEASURES, DailyRollup, RolledUpInvitation, RolledUpResponse
from avis.analytics.queries import metric_values
from avis.analytics.services import rebuild_rollups, record_response_in_rollups
from avis.analytics.stats import mean_from_sums, nps, wilson
from avis.surveys.models import Answer, Invitation, Response
from tests.analytics.answering import ask_effort, survey_and_answer
from tests.factories import make_organisation
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")
_organisations = count()

# Around the end of March 2026: a month boundary and the switch to summer time (29 March).
START = datetime(2026, 3, 27, tzinfo=UTC)
answer_spec = st.tuples(
    st.sampled_from(["call_center.call", "branch.visit"]),
    st.sampled_from(["A-1", "A-2", None]),
    st.integers(0, 6 * 24 * 60 - 1),  # minutes after START
    st.integers(0, 10),
    st.sampled_from(["yes", "partly", "no"]),
    st.sampled_from(["1", "2", "3", "4", "5", "na"]),
    st.booleans(),  # answered, or the invitation left unanswered
    st.sampled_from(["1", "4", "7", "na"]),  # customer effort
)


def rollup_table(organisation) -> dict[tuple, tuple]:  # noqa: ANN001
    rows = DailyRollup.objects.filter(organisation=organisation).values()
    keys = ("touchpoint_id", "team_key", "agent_key", "channel", "day")
    return {tuple(r[k] for k in keys): tuple(r[m] for m in ROLLUP_MEASURES) for r in rows}


def recompute_by_hand(organisation) -> dict[tuple[str, str, str], dict[str, object]]:  # noqa: ANN001
    """NPS, the agent's mean, CES and the response rate per touchpoint × agent × month, in Python, from the
    raw answers and invitations (the rate on the month each invitation was planned for)."""
    nps_counts: dict[tuple, Counter] = defaultdict(Counter)
    invitations: dict[tuple, Counter] = defaultdict(Counter)
    for i in Invitation.objects.filter(organisation=organisation).select_related(
        "touchpoint", "interaction__agent"
    ):
        month = i.planned_at.astimezone(PARIS).date().replace(day=1).isoformat()
        agent = i.interaction.agent
        key = (i.touchpoint.code, agent.external_id if agent else "", month)
        invitations[key]["invited"] += i.status in ("sent", "responded")
        invitations[key]["responded"] += i.status == "responded"
    agent_scores: dict[tuple, list[int]] = defaultdict(list)
    efforts: dict[tuple, list[int]] = defaultdict(list)
    for a in Answer.objects.filter(organisation=organisation).select_related("touchpoint", "agent"):
        month = a.answered_at.astimezone(PARIS).date().replace(day=1).isoformat()
        key = (a.touchpoint.code, a.agent.external_id if a.agent else "", month)
        if a.kind == "nps":
            nps_counts[key]["p" if a.number >= 9 else "d" if a.number <= 6 else "n"] += 1
        if a.attribution == "agent" and not a.not_applicable:
            agent_scores[key].append(a.number)
        if a.kind == "ces" and not a.not_applicable:
            efforts[key].append(a.number)
    return {
        "nps": {k: nps(c["p"], c["n"], c["d"]) for k, c in nps_counts.items()},
        "agent_mean": {
            k: mean_from_sums(len(v), sum(v), sum(x * x for x in v)) for k, v in agent_scores.items() if v
        },
        "ces": {k: mean_from_sums(len(v), sum(v), sum(x * x for x in v)) for k, v in efforts.items() if v},
        "response_rate": {
            k: wilson(c["responded"], c["invited"]) for k, c in invitations.items() if c["invited"]
        },
    }


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(answer_spec, min_size=1, max_size=14))
def test_rollups_equal_a_recomputation_from_raw_answers(db, specs) -> None:  # noqa: ANN001
    org = make_organisation("Roll-up", slug=f"rollup-{next(_organisations)}")
    open_all_day(org.organisation)
    for touchpoint in ("call_center.call", "branch.visit"):
        ask_effort(org, touchpoint)
    for touchpoint, agent, minutes, score, resolved, agent_score, answered, effort in specs:
        survey_and_answer(
            org,
            START + timedelta(minutes=minutes),
            [score if answered else None],
            touchpoint,
            agent=agent,
            resolved=[resolved],
            agent_scores=[agent_score],
            more={"effort": [effort]},
        )
    incremental = rollup_table(org.organisation)
    answered = sum(1 for spec in specs if spec[6])
    totals = {m: sum(row[ROLLUP_MEASURES.index(m)] for row in incremental.values()) for m in ROLLUP_MEASURES}
    assert (totals["responses"], totals["responded"], totals["invited"]) == (answered, answered, len(specs))
    rebuild_rollups(organisation=org.organisation)
    assert rollup_table(org.organisation) == incremental

    by_hand = recompute_by_hand(org.organisation)
    for metric in ("nps", "agent_mean", "ces", "response_rate"):
        values = metric_values(
            organisation=org.organisation, metric=metric, period="month", group_by=["touchpoint", "agent"]
        )
        got = {(v.touchpoint, v.agent, v.period_start.isoformat()): v.estimate for v in values}
        assert got == by_hand[metric]


def test_a_response_counted_twice_at_once_is_counted_once(org) -> None:
    open_all_day(org.organisation)
    responses = survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 9, 8, 7, 3, 0, 10, 5])
    survey_and_answer(org, datetime(2026, 3, 10, 12, tzinfo=PARIS), [1, 9], agent="A-9")
    expected = rollup_table(org.organisation)
    # Forget the roll-ups, then let two workers replay every response at the same moment.
    DailyRollup.objects.filter(organisation=org.organisation).delete()
    RolledUpResponse.objects.filter(response__organisation=org.organisation).delete()
    RolledUpInvitation.objects.filter(invitation__organisation=org.organisation).delete()
    ids = list(Response.objects.filter(organisation=org.organisation).values_list("id", flat=True))
    start = threading.Barrier(4)

    def replay(order: list[int]) -> int:
        try:
            start.wait()
            return sum(record_response_in_rollups(response=Response.objects.get(id=i)) for i in order)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        counted = sum(pool.map(replay, [ids, ids[::-1], ids, ids[::-1]]))
    assert counted == len(ids) == len(responses) + 2
    assert rollup_table(org.organisation) == expected


def test_the_rebuild_command_restores_the_rollups(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 3, 8])
    expected = rollup_table(org.organisation)
    DailyRollup.objects.filter(organisation=org.organisation).update(nps_promoters=99)
    call_command("rollups", "--rebuild", "--organisation", org.organisation.slug)
    assert rollup_table(org.organisation) == expected
    (value,) = metric_values(organisation=org.organisation, metric="nps")
    assert value.estimate.value == pytest.approx(0.0)
