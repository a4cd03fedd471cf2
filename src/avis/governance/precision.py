"""How many customers a precision goal needs asked: the arithmetic, kept apart from the data.

For a stratum (an agent, a team, a touchpoint) and a goal "metric within ±e
points at confidence 1−α per period", with z = Φ⁻¹(1 − α/2):

    σ²   per-answer variance in points², from the stratum's answers (see ``_variance``)
    n₀ = z² σ² / e²                       completes for the margin, infinite population
    N    interactions a period; no finite-population correction (n = n₀), as the
         intervals avis reports make none
    r    the stratum's response rate (smoothed toward the organisation's)
    g    the share of its interactions governance lets reach the draw (caps, quarantine, opt-out)
    m  = ((z_a + √(z_a² + 4n₀)) / 2)²      completes to aim for, so that a period reaches n with
                                          probability a (the assurance, 90 %): completes vary
                                          about their mean m like a Poisson count, m − z_a √m = n₀
    π  = min(1, m / (r · g · N))          the inclusion probability to draw with

Aiming at n itself would reach the margin in only half of the periods: the
textbook size is a median, not a guarantee (Kupper & Hafner 1989, "How
appropriate are popular sample size formulas?", The American Statistician
43(2)). N counts the interactions of the period being sampled, with its real
length: February is shorter than March.

docs/governance.md derives each step; tests/governance/test_precision.py checks them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from math import ceil, isfinite, sqrt
from typing import Any

from scipy.stats import norm

# Below this many answers, the observed variance is blended with the worst case,
# so that a stratum measured on ten answers is not declared precise by luck.
PRIOR_ANSWERS = 30
# Pseudo-invitations that pull a thin stratum's response rate toward the organisation's.
PRIOR_INVITATIONS = 20
WORST_VARIANCE = {"nps": 100.0**2, "resolution": 50.0**2, "csat": 50.0**2}
# The share of periods that should reach the margin: the sample is sized for it, not for the median.
ASSURANCE = 0.9


@dataclass(frozen=True)
class GoalTerms:
    metric: str  # nps | resolution | csat
    margin: float  # points
    confidence: float
    period_days: float  # length of the period being sampled
    assurance: float = ASSURANCE


@dataclass(frozen=True)
class StratumObservation:
    """What the recent past says about one stratum."""

    stratum: str
    days: float  # length of the observation window
    interactions: int  # interactions decided about in the window
    reached_draw: int  # of them, how many passed opt-out, exclusions, caps and quarantine
    invitations: int
    responses: int
    answers: int  # answers to the goal's metric
    top: int  # promoters (NPS) or successes (proportions)
    bottom: int = 0  # detractors (NPS)
    organisation_response_rate: float = 0.3


@dataclass(frozen=True)
class Need:
    probability: float
    completes: int  # for the margin (the textbook size)
    target_completes: float  # what the probability aims at, for the assurance
    variance: float
    response_rate: float
    eligible_share: float
    interactions_per_period: float
    expected_completes: float  # at this probability
    reachable: bool  # False: even asking everyone eligible falls short of the goal

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _variance(metric: str, observed: StratumObservation) -> float:
    """Per-answer variance in points², adjusted for small samples, blended with the worst case."""
    n = observed.answers
    if metric == "nps":
        # Rocks (2016): three pseudo-answers, as the adjusted-Wald interval does.
        promoters = (observed.top + 0.75) / (n + 3)
        detractors = (observed.bottom + 0.75) / (n + 3)
        measured = 100.0**2 * (promoters + detractors - (promoters - detractors) ** 2)
    else:
        # Agresti–Coull: two successes and two failures added.
        share = (observed.top + 2) / (n + 4)
        measured = 100.0**2 * share * (1 - share)
    weight = n / (n + PRIOR_ANSWERS)
    return weight * measured + (1 - weight) * WORST_VARIANCE[metric]


@lru_cache(maxsize=64)
def normal_quantile(probability: float) -> float:
    return float(norm.ppf(probability))


def completes_for(goal: GoalTerms, variance: float, population: float) -> int:
    z = normal_quantile(1 - (1 - goal.confidence) / 2)
    infinite = z**2 * variance / goal.margin**2
    if population <= 0 or not isfinite(population):
        return ceil(infinite)
    return ceil(infinite / (1 + (infinite - 1) / population))


def assured(completes: float, assurance: float = ASSURANCE) -> float:
    """The mean number of completes that reaches ``completes`` in a share ``assurance`` of periods."""
    if completes <= 0:
        return 0.0
    z = normal_quantile(assurance)
    return ((z + sqrt(z * z + 4 * completes)) / 2) ** 2


def required_probability(*, goal: GoalTerms, observed: StratumObservation) -> Need:
    variance = _variance(goal.metric, observed)
    per_period = observed.interactions * goal.period_days / observed.days if observed.days > 0 else 0.0
    # No finite-population correction: the intervals avis reports (analytics.stats) treat a period's
    # customers as a sample of the service, not as the whole population, and the goal is judged on them.
    completes = completes_for(goal, variance, float("inf"))
    prior = observed.organisation_response_rate
    rate = (observed.responses + PRIOR_INVITATIONS * prior) / (observed.invitations + PRIOR_INVITATIONS)
    eligible = (observed.reached_draw + 1) / (observed.interactions + 2)
    capacity = rate * eligible * per_period  # completes a period if everyone eligible were asked
    # Never aim past the whole population: asking everyone is as sure as it gets.
    target = min(assured(completes, goal.assurance), capacity) if capacity > 0 else float(completes)
    target = max(target, float(completes))
    probability = 1.0 if capacity <= 0 else min(1.0, target / capacity)
    return Need(
        probability=round(probability, 6),
        completes=completes,
        target_completes=round(target, 3),
        variance=round(variance, 3),
        response_rate=round(rate, 6),
        eligible_share=round(eligible, 6),
        interactions_per_period=round(per_period, 3),
        expected_completes=round(probability * capacity, 3),
        reachable=capacity >= completes,
    )


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The first day of the week, month or quarter holding ``day``, and the first day after it."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    months = 3 if period == "quarter" else 1
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    after = first_month + months
    end = date(day.year + (after > 12), (after - 1) % 12 + 1, 1)
    return start, end


def goal_terms(goal: Any, *, at: datetime | date | None = None) -> GoalTerms:
    """The plain terms of a SamplingGoal row (or a simulated goal), for the period holding ``at``."""
    from avis.governance.models import PERIOD_DAYS

    days = float(PERIOD_DAYS[goal.period])
    if at is not None:
        start, end = period_bounds(goal.period, at.date() if isinstance(at, datetime) else at)
        days = float((end - start).days)
    return GoalTerms(metric=goal.metric, margin=goal.margin, confidence=goal.confidence, period_days=days)
