"""A change is called significant only after Benjamini–Hochberg; weighted figures meet the margins."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from avis.analytics.changes import period_changes
from avis.analytics.comparison import difference_of_nps
from avis.analytics.models import DailyRollup
from avis.analytics.weighted import weighted_overview
from avis.interactions.models import Team
from tests.analytics.answering import survey_and_answer
from tests.helpers import open_all_day

PARIS = ZoneInfo("Europe/Paris")


def rollup(org, team: Team, day: date, promoters: int, passives: int, detractors: int) -> None:  # noqa: ANN001
    DailyRollup.objects.create(
        organisation=org.organisation,
        touchpoint=org.touchpoints["call_center.call"],
        team_key=team.pk,
        channel="email",
        day=day,
        responses=promoters + passives + detractors,
        nps_promoters=promoters,
        nps_passives=passives,
        nps_detractors=detractors,
    )


@pytest.mark.django_db
def test_with_forty_teams_only_changes_that_survive_bh_are_significant(org) -> None:
    teams = [Team.objects.create(organisation=org.organisation, code=f"t{i:02d}") for i in range(40)]
    for i, team in enumerate(teams):
        rollup(org, team, date(2026, 3, 5), 60, 20, 20)  # NPS 40, n = 100
        if i == 0:
            rollup(org, team, date(2026, 4, 5), 20, 20, 60)  # a real collapse: NPS −40
        elif i == 1:
            rollup(org, team, date(2026, 4, 5), 46, 22, 32)  # NPS 14: p ≈ 0.04 alone, not among 40
        else:
            rollup(org, team, date(2026, 4, 5), 60 - i % 3, 20, 20 + i % 3)
    result = period_changes(
        organisation=org.organisation,
        metric="nps",
        period="month",
        group_by=["team"],
        now=datetime(2026, 5, 2, 9, tzinfo=PARIS),  # April is the last complete month
    )
    assert (result.current_start, result.previous_start) == (date(2026, 4, 1), date(2026, 3, 1))
    by_team = {c.label: c for c in result.changes}
    assert len(by_team) == 40
    assert by_team["t00"].significant and by_team["t00"].difference.value == pytest.approx(-80)
    alone = difference_of_nps((46, 22, 32), (60, 20, 20))
    assert alone.p_value < 0.05 and by_team["t01"].difference.p_value == pytest.approx(alone.p_value)
    assert not by_team["t01"].significant and by_team["t01"].adjusted_p > 0.05
    assert [c.label for c in result.changes if c.significant] == ["t00"]
    assert all(c.reliable for c in result.changes)  # n = 100 ≥ 30 on both sides


@pytest.mark.django_db(transaction=True)
def test_weighting_restores_the_population_share_of_each_touchpoint(org) -> None:
    open_all_day(org.organisation)
    at = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    # Six calls, four answered, all promoters; six visits, one answered, a detractor.
    survey_and_answer(org, at, [10, 10, 10, 10, None, None])
    survey_and_answer(org, at, [0, None, None, None, None, None], touchpoint="branch.visit")
    overview = weighted_overview(organisation=org.organisation, metric="nps")
    overall = overview.figures[0]
    assert overall.touchpoint == "" and "touchpoint" in overview.margins
    assert overall.estimate.unweighted.value == pytest.approx(60.0)  # (4 − 1)/5
    assert overall.estimate.value == pytest.approx(0.0)  # half the interactions each: (100 − 100)/2
    assert overall.estimate.design_effect > 1 and overall.estimate.effective_n < 5
    assert overall.estimate.ci_low < 0 < overall.estimate.ci_high
    per_touchpoint = {f.touchpoint: f.estimate.value for f in overview.figures[1:]}
    assert per_touchpoint == {"call_center.call": pytest.approx(100.0), "branch.visit": pytest.approx(-100.0)}
