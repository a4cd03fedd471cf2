"""Precision-targeted sampling: just enough customers asked for the precision stated."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from scipy.stats import norm

from avis.analytics.stats import nps
from avis.governance.models import Decision, StratumRate
from avis.governance.precision import GoalTerms, StratumObservation, completes_for, required_probability
from avis.governance.services import create_sampling_goal
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.surveys.models import Invitation
from avis.surveys.services import refresh_sampling_rates, submit_response
from tests.factories import interaction_payload
from tests.helpers import open_all_day

PARIS = ZoneInfo("Europe/Paris")
MONTH = GoalTerms(metric="nps", margin=10, confidence=0.95, period_days=365.25 / 12)


def observed(**values) -> StratumObservation:  # noqa: ANN003
    defaults = dict(
        stratum="A-1", days=90, interactions=6000, reached_draw=6000, invitations=3000, responses=1200,
        answers=1200, top=600, bottom=240, organisation_response_rate=0.4,
    )  # fmt: skip
    return StratumObservation(**(defaults | values))


def test_completes_follow_the_textbook_formula() -> None:
    # σ² = 100² (p+ + p− − (p+ − p−)²) with p+ = 0.5, p− = 0.2 (adjusted by 3/4 over n + 3).
    need = required_probability(goal=MONTH, observed=observed())
    promoters, detractors = 600.75 / 1203, 240.75 / 1203
    measured = 100**2 * (promoters + detractors - (promoters - detractors) ** 2)
    weight = 1200 / 1230
    variance = weight * measured + (1 - weight) * 100**2
    assert need.variance == pytest.approx(variance, abs=1e-3)
    z = norm.ppf(0.975)
    infinite = z**2 * variance / 10**2
    population = 6000 * (365.25 / 12) / 90
    # No finite-population correction: the intervals avis reports make none.
    assert need.completes == math.ceil(infinite)
    rate = (1200 + 20 * 0.4) / (3000 + 20)
    assert need.response_rate == pytest.approx(rate, abs=1e-6)
    # Aimed above n, so that 90 % of months reach it: m − z₀.₉ √m = n (completes vary like a Poisson count).
    z90 = norm.ppf(0.9)
    target = ((z90 + math.sqrt(z90**2 + 4 * need.completes)) / 2) ** 2
    assert target - z90 * math.sqrt(target) == pytest.approx(need.completes)
    assert need.target_completes == pytest.approx(target, abs=1e-3)
    assert need.probability == pytest.approx(target / (rate * (6001 / 6002) * population), abs=1e-6)


def test_a_tighter_margin_or_a_quieter_stratum_asks_more() -> None:
    loose = required_probability(goal=MONTH, observed=observed())
    tight = required_probability(goal=GoalTerms("nps", 5, 0.95, MONTH.period_days), observed=observed())
    quiet = required_probability(goal=MONTH, observed=observed(interactions=600, reached_draw=600))
    assert loose.probability < tight.probability <= 1
    assert loose.probability < quiet.probability
    # A stratum too small for the goal is asked in full and says so.
    tiny = required_probability(goal=MONTH, observed=observed(interactions=30, reached_draw=30))
    assert tiny.probability == 1 and not tiny.reachable


def test_a_stratum_never_measured_starts_from_the_worst_case() -> None:
    need = required_probability(
        goal=MONTH, observed=observed(answers=0, top=0, bottom=0, invitations=0, responses=0)
    )
    assert need.variance == pytest.approx(100**2)
    assert need.response_rate == pytest.approx(0.4)


def test_finite_population_correction_never_asks_more_than_the_population() -> None:
    assert completes_for(MONTH, 100**2, population=50) <= 50
    assert completes_for(MONTH, 100**2, population=float("inf")) == math.ceil(norm.ppf(0.975) ** 2 * 100)


def test_drawing_at_the_computed_probability_meets_the_margin_nine_months_in_ten() -> None:
    """Simulate months: interactions drawn at π, answers at the response rate; ±10 in 90 % of them."""
    rng = random.Random(7)
    truth = observed()
    need = required_probability(goal=MONTH, observed=truth)
    half_widths = []
    for _ in range(300):
        population = int(need.interactions_per_period)
        completes = sum(1 for _ in range(population) if rng.random() < need.probability * need.response_rate)
        promoters = sum(1 for _ in range(completes) if rng.random() < 0.5)
        detractors = sum(1 for _ in range(completes - promoters) if rng.random() < 0.4)
        estimate = nps(
            promoters=promoters, passives=completes - promoters - detractors, detractors=detractors
        )
        half_widths.append((estimate.ci_high - estimate.ci_low) / 2)
    within = sum(width <= 10 for width in half_widths) / len(half_widths)
    assert 0.85 <= within <= 0.99  # the assurance, give or take the draw; not all (that would be waste)


@pytest.mark.django_db
def test_goals_set_per_agent_probabilities_that_decisions_record(org) -> None:
    """A busy agent is sampled, a quiet one asked in full; each decision keeps its probability."""
    open_all_day(org.organisation, quarantine_days=0, windows=[{"max": 50, "days": 365}])
    start = datetime(2026, 1, 5, 11, tzinfo=PARIS)
    history = []
    for i in range(400):
        agent = "BUSY" if i % 40 else "QUIET"
        history.append(
            InteractionIn(
                **interaction_payload(
                    f"h-{i}", customer=f"C-{i}", agent=agent, occurred_at=start + timedelta(hours=i)
                )
            )
        )
    ingest_interactions(organisation=org.organisation, items=history, replay=True)
    for number, invitation in enumerate(Invitation.objects.filter(organisation=org.organisation)):
        if number % 2 == 0:
            submit_response(
                token=invitation.token,
                answers={"nps": str(9 if number % 3 else 3), "resolved": "yes"},
                now=invitation.planned_at + timedelta(hours=1),
            )
    goal = create_sampling_goal(
        organisation=org.organisation, metric="nps", dimension="agent", period="month", margin=25
    )
    now = start + timedelta(days=20)
    assert refresh_sampling_rates(organisation=org.organisation, now=now) == 2
    rates = dict(StratumRate.objects.filter(goal=goal).values_list("stratum", "probability"))
    assert rates["QUIET"] == 1.0
    assert 0 < rates["BUSY"] < 1.0

    fresh = [
        InteractionIn(**interaction_payload(f"n-{i}", customer=f"N-{i}", agent="BUSY", occurred_at=now))
        for i in range(300)
    ]
    results = ingest_interactions(organisation=org.organisation, items=fresh, now=now)
    decisions = [r.decision for r in results]
    assert {d.inclusion_probability for d in decisions} == {rates["BUSY"]}
    invited = sum(d.outcome == "invite" for d in decisions)
    expected = 300 * rates["BUSY"]
    assert abs(invited - expected) < 4 * math.sqrt(expected * (1 - rates["BUSY"])) + 1
    skipped = next(d for d in decisions if d.reason == "not_sampled")
    assert skipped.context["stratum"] == "BUSY"
    assert Decision.objects.filter(organisation=org.organisation, context__stratum="BUSY").exists()
