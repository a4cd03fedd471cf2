"""Precision-targeted sampling against fixed rates, on histories whose answer is known."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from avis.governance.simulation import Goal, load_policy, simulate
from avis.governance.simulation_assumptions import needed_completes
from avis.governance.simulation_run import run_simulation
from tests.governance.synthetic import Stratum, assumptions, history

# Pressure that never binds, sending at any hour: only the sampling differs between the sides.
OPEN = {
    "windows": [{"max": 100, "days": 365}],
    "quarantine_days": 0,
    "send_from": "00:00",
    "send_until": "00:00",
    "send_on_sunday": True,
    "send_on_holidays": True,
    "freshness_hours": 0,
}
GOAL = {"metric": "nps", "dimension": "team", "period": "month", "margin": 15}

# Sizes from 150 to 1,500 interactions a month and answers from steady (90 % promoters) to split
# (45 % / 35 %): at a 30 % response rate, ±15 points asks 16 % of T2 but two thirds of T3 and T4.
STRATA = [
    Stratum("T1", "call", 1500, 0.40, 0.40),
    Stratum("T2", "call", 800, 0.90, 0.03),
    Stratum("T3", "call", 700, 0.45, 0.35),
    Stratum("T4", "call", 400, 0.70, 0.10),
    Stratum("T5", "call", 150, 0.95, 0.01),
]
START, DAYS = date(2026, 1, 1), 123  # four whole months, and three days of May


def test_goal_driven_sampling_meets_the_goal_with_fewer_invitations_than_any_single_rate() -> None:
    given = assumptions(STRATA)
    rows = history(STRATA, start=START, days=DAYS, seed=3)
    report = run_simulation(
        history=rows,
        policies=[{"policy": OPEN, "strategy": "goals"}, {"policy": OPEN, "strategy": "cheapest"}],
        goals=[GOAL],
        assumptions=given,
    )
    driven, cheapest = report.policies
    assert (driven.strategy, cheapest.strategy) == ("goals", "cheapest")
    (outcome,) = driven.goals
    assert len(outcome.strata) == 20  # 5 teams × January to April
    assert {s.period for s in outcome.partial} == {"2026-05"}  # apart, and never a failure
    assert outcome.met >= 0.9 * len(outcome.strata)
    assert "met in" in outcome.verdict and "of 20 team-months" in outcome.verdict

    # The simulator's cheapest fixed rate meets it as often, and costs more invitations.
    assert cheapest.goals[0].met >= outcome.met
    assert cheapest.surveys > driven.surveys
    assert driven.saving is not None
    assert driven.saving.invitations == driven.surveys - cheapest.surveys < 0
    assert driven.saving.customers_left_alone > 0
    assert cheapest.saving is not None and cheapest.saving.invitations == 0

    # Brute force: every single rate from 60 % to 100 %, replayed; none that meets the goal as often
    # asks fewer than goal-driven sampling, and the simulator found one at least as cheap as the grid.
    policy = load_policy(spec=OPEN)
    grid = [round(0.6 + 0.05 * step, 2) for step in range(9)]
    sides = [policy.with_rates(default=rate, rates={}, label=f"{rate}", strategy=f"{rate}") for rate in grid]
    goal = Goal(**GOAL)
    replayed = simulate(history=rows(), policies=sides, goals=[goal], response_rate=lambda row: 0.3)
    meeting = []
    for rate, tally in zip(grid, replayed.policies, strict=True):
        met = sum(
            1
            for (_goal, team, period), counted in tally.strata.items()
            if period != "2026-05" and counted.completes >= needed_completes(goal, given, team)
        )
        if met >= outcome.met:
            meeting.append((rate, sum(tally.surveys.values())))
    assert meeting, "asking everyone meets the goal as often"
    assert all(invitations > driven.surveys for _rate, invitations in meeting)
    assert cheapest.surveys <= min(invitations for _rate, invitations in meeting)


def test_when_caps_bind_the_ceiling_is_the_count_of_customers_the_policy_lets_be_asked() -> None:
    """Forty customers calling every day, one survey a month each: ±10 points cannot be had."""
    strata = [
        Stratum("lyon", "call", 900, 0.5, 0.2, customers=40),
        Stratum("lille", "call", 450, 0.5, 0.2, customers=25),
    ]
    capped = OPEN | {"windows": [{"max": 1, "days": 30}]}
    rows = history(strata, start=date(2026, 3, 1), days=92, seed=5)
    report = run_simulation(
        history=rows,
        policies=[{"policy": capped, "strategy": "goals"}],
        goals=[GOAL | {"margin": 10}],
        assumptions=assumptions(strata),
    )
    (outcome,) = report.policies[0].goals

    # Brute force: walk the history, a customer can be asked when not asked in the 30 days before.
    last_asked: dict[str, object] = {}
    asked: Counter[tuple[str, str]] = Counter()
    for row in rows():
        before = last_asked.get(row.customer)
        if before is None or row.occurred_at - before >= timedelta(days=30):  # type: ignore[operator]
            last_asked[row.customer] = row.occurred_at
            asked[row.team, f"{row.occurred_at:%Y-%m}"] += 1
    assert len(outcome.strata) == 6  # March, April, May for both teams
    for stratum in outcome.strata:
        brute = asked[stratum.stratum, stratum.period] * 0.3
        assert stratum.ceiling == pytest.approx(brute, rel=0.05)
        assert stratum.ceiling < stratum.needed and not stratum.met

    (reach,) = report.reach
    assert (reach.unreachable, reach.periods) == (6, 6)
    assert reach.best_half_width is not None and reach.best_half_width > 10
    assert reach.lost["cap_reached"] > 0.8  # the cap, not the response rate, is what binds
    assert [change.met for change in reach.relaxations]  # the changes tried, with their pressure
    assert all(change.max >= 1 for change in reach.relaxations)
