"""How many customers a precision goal needs asked: the arithmetic, kept apart from the data.

For a stratum (an agent, a team, a touchpoint) and a goal "metric within ±e
points at confidence 1−α per period", with z = Φ⁻¹(1 − α/2):

    σ²   per-answer variance in points², from the stratum's answers (see ``_variance``)
    n₀ = z² σ² / e²                       completes for the margin, infinite population
    n  = n₀ / (1 + (n₀ − 1) / N)          finite-population correction, N interactions a period
    r    the stratum's response rate (smoothed toward the organisation's)
    g    the share of its interactions governance lets reach the draw (caps, quarantine, opt-out)
    π  = min(1, n / (r · g · N))          the inclusion probability to draw with

docs/governance.md derives each step; tests/governance/test_precision.py checks them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import ceil, isfinite
from typing import Any

from scipy.stats import norm

# Below this many answers, the observed variance is blended with the worst case,
# so that a stratum measured on ten answers is not declared precise by luck.
PRIOR_ANSWERS = 30
# Pseudo-invitations that pull a thin stratum's response rate toward the organisation's.
PRIOR_INVITATIONS = 20
WORST_VARIANCE = {"nps": 100.0**2, "resolution": 50.0**2, "csat": 50.0**2}


@dataclass(frozen=True)
class GoalTerms:
    metric: str  # nps | resolution | csat
    margin: float  # points
    confidence: float
    period_days: float


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
    completes: int
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


def completes_for(goal: GoalTerms, variance: float, population: float) -> int:
    z = float(norm.ppf(1 - (1 - goal.confidence) / 2))
    infinite = z**2 * variance / goal.margin**2
    if population <= 0 or not isfinite(population):
        return ceil(infinite)
    return ceil(infinite / (1 + (infinite - 1) / population))


def required_probability(*, goal: GoalTerms, observed: StratumObservation) -> Need:
    variance = _variance(goal.metric, observed)
    per_period = observed.interactions * goal.period_days / observed.days if observed.days > 0 else 0.0
    completes = completes_for(goal, variance, per_period)
    prior = observed.organisation_response_rate
    rate = (observed.responses + PRIOR_INVITATIONS * prior) / (observed.invitations + PRIOR_INVITATIONS)
    eligible = (observed.reached_draw + 1) / (observed.interactions + 2)
    capacity = rate * eligible * per_period  # completes a period if everyone eligible were asked
    probability = 1.0 if capacity <= 0 else min(1.0, completes / capacity)
    return Need(
        probability=round(probability, 6),
        completes=completes,
        variance=round(variance, 3),
        response_rate=round(rate, 6),
        eligible_share=round(eligible, 6),
        interactions_per_period=round(per_period, 3),
        expected_completes=round(probability * capacity, 3),
        reachable=capacity >= completes,
    )


def goal_terms(goal: Any) -> GoalTerms:
    """The plain terms of a SamplingGoal row."""
    from avis.governance.models import PERIOD_DAYS

    return GoalTerms(
        metric=goal.metric,
        margin=goal.margin,
        confidence=goal.confidence,
        period_days=PERIOD_DAYS[goal.period],
    )
