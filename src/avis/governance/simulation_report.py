"""What each side of a simulation would cost and deliver: the figures ``avis simulate`` and the page show.

Every side is judged on every goal named, per complete stratum-period (the
partial first and last periods apart), against the ceiling its policy allows;
with its difference from the cheapest fixed rates meeting the goals as often,
and, for a goal out of reach, why and what a change of policy would give.
``simulation_run`` makes the replays these figures come from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from math import inf
from typing import Any

from avis.governance.simulation import (
    Goal,
    PolicyTally,
    SimulatedPolicy,
    StratumTally,
    median_of,
    quantile,
    surveys_per_customer,
)
from avis.governance.simulation_assumptions import Assumptions, half_width, needed_completes
from avis.governance.simulation_search import Relaxation
from avis.governance.simulation_wording import goal_verdict, strategy_label

# --- what the report holds ---------------------------------------------------------------------


@dataclass
class StratumOutcome:
    stratum: str
    period: str
    complete: bool
    interactions: int
    invitations: int
    completes: float
    half_width: float | None
    needed: int  # completes the margin needs with this stratum's score shares
    met: bool
    ceiling: float | None = None  # completes if everyone the policy allows were asked
    best_half_width: float | None = None  # the half-width at that ceiling


@dataclass
class GoalOutcome:
    goal: Goal
    description: str
    strata: list[StratumOutcome]  # complete periods, the ones the goal is judged on
    partial: list[StratumOutcome]  # the first and last periods when the history covers them in part

    @property
    def met(self) -> int:
        return sum(s.met for s in self.strata)

    @property
    def share(self) -> float | None:
        return self.met / len(self.strata) if self.strata else None

    @property
    def median_half_width(self) -> float | None:
        return median_width(self.strata)

    @property
    def verdict(self) -> str:
        return goal_verdict(self.goal, self.met, len(self.strata))


@dataclass
class Saving:
    """This side minus the cheapest fixed rates meeting the goals as often: negative is a saving."""

    invitations: int
    messages: int
    cost: Decimal
    customers_left_alone: int  # positive: more customers never asked

    def share(self, reference: int) -> float | None:
        return self.invitations / reference if reference else None


@dataclass
class PolicySummary:
    label: str  # the policy
    name: str  # the policy and its strategy, as a column title
    strategy: str
    rates: dict[str, float] | None  # fixed rates ("*": every other touchpoint); None when goal-driven
    version: int | None
    customers: int
    surveyed: int
    median: int
    p95: int
    max: int
    surveys: int
    messages: dict[str, int]
    cost: Decimal
    completes: float
    outcomes: dict[str, int]
    histogram: dict[int, int]
    goals: list[GoalOutcome]
    saving: Saving | None = None  # against the cheapest fixed rates, when they were searched for

    @property
    def share_surveyed(self) -> float:
        return self.surveyed / self.customers if self.customers else 0.0


@dataclass
class RelaxationOutcome:
    description: str
    met: list[int]  # per goal, complete stratum-periods met
    periods: list[int]
    surveys: int
    surveyed: int
    p95: int
    max: int


@dataclass
class Reach:
    """Why a goal cannot be met in some stratum-periods, by how much, and what would change it."""

    goal: Goal
    periods: int  # complete stratum-periods
    unreachable: int  # of them, how many even asking everyone the policy allows cannot bring to the margin
    needed: float | None  # median completes needed, over the unreachable ones
    ceiling: float | None  # median completes reachable there
    best_half_width: float | None  # median of the best half-widths reachable there
    lost: dict[str, float]  # skip reason → share of their interactions it kept from being asked
    response_rate: float | None  # completes per survey there
    relaxations: list[RelaxationOutcome]


@dataclass
class Cheapest:
    rates: dict[str, float] | None  # None: no fixed rate reaches the target
    targets: list[int]  # per goal, the complete stratum-periods to meet
    reference: str  # whose share is matched
    reference_met: list[int]  # what it meets: more than the targets when even everyone cannot match it
    replays: int


@dataclass
class Report:
    interactions: int
    customers: int
    first: datetime | None
    last: datetime | None
    assumptions: Assumptions
    policies: list[PolicySummary]
    cheapest: Cheapest | None = None
    reach: list[Reach] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``avis simulate --json``, the page's stored result)."""

        def plain(value: Any) -> Any:
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {str(k): plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        policies = []
        for summary in self.policies:
            data = asdict(summary)
            data["share_surveyed"] = summary.share_surveyed
            data["strategy_label"] = strategy_label(summary.strategy)
            for goal, outcome in zip(data["goals"], summary.goals, strict=True):
                goal |= {
                    "description": outcome.description,
                    "met": outcome.met,
                    "periods": len(outcome.strata),
                    "share": outcome.share,
                    "verdict": outcome.verdict,
                    "median_half_width": outcome.median_half_width,
                }
            if summary.saving is not None:
                data["saving"]["share"] = summary.saving.share(summary.surveys - summary.saving.invitations)
            policies.append(data)
        return plain(
            {
                "interactions": self.interactions,
                "customers": self.customers,
                "first": self.first,
                "last": self.last,
                "assumptions": asdict(self.assumptions),
                "policies": policies,
                "cheapest": None if self.cheapest is None else asdict(self.cheapest),
                "reach": [asdict(reach) | {"description": reach.goal.describe()} for reach in self.reach],
            }
        )


CellsOf = Callable[[int, PolicyTally], dict[tuple[int, str, str], StratumTally]]


def median_width(strata: Sequence[StratumOutcome]) -> float | None:
    """The median half-width; a stratum-period with no answer counts as the widest (None if it is one)."""
    middle = median_of(inf if s.half_width is None else s.half_width for s in strata)
    return None if middle is None or middle == inf else middle


def stratum_outcomes(
    goal: Goal,
    number: int,
    tally: PolicyTally,
    ceiling: PolicyTally | None,
    assumptions: Assumptions,
    first: date | None,
    last: date | None,
) -> tuple[list[StratumOutcome], list[StratumOutcome]]:
    complete, partial = [], []
    for (index, stratum, period), counted in sorted(tally.strata.items()):
        if index != number:
            continue
        width = half_width(goal, counted.completes, assumptions, stratum)
        top = ceiling.strata.get((index, stratum, period)) if ceiling is not None else None
        best = half_width(goal, top.completes, assumptions, stratum) if top is not None else None
        outcome = StratumOutcome(
            stratum=stratum,
            period=period,
            complete=bool(first and last and goal.is_complete(period, first, last)),
            interactions=counted.interactions,
            invitations=counted.invitations,
            completes=round(counted.completes, 2),
            half_width=None if width is None else round(width, 2),
            needed=needed_completes(goal, assumptions, stratum),
            met=width is not None and width <= goal.margin,
            ceiling=None if top is None else round(top.completes, 2),
            best_half_width=None if best is None else round(best, 2),
        )
        (complete if outcome.complete else partial).append(outcome)
    return complete, partial


def summarise_side(
    policy: SimulatedPolicy,
    tally: PolicyTally,
    customers: int,
    goals: Sequence[Goal],
    assumptions: Assumptions,
    ceiling: PolicyTally | None,
    first: date | None,
    last: date | None,
) -> PolicySummary:
    histogram = surveys_per_customer(tally, customers)
    outcomes = []
    for number, goal in enumerate(goals):
        complete, partial = stratum_outcomes(goal, number, tally, ceiling, assumptions, first, last)
        outcomes.append(GoalOutcome(goal, goal.describe(), complete, partial))
    messages = {channel: count for channel, count in sorted(tally.messages.items()) if count}
    cost = assumptions.sms_cost * messages.get("sms", 0) + assumptions.email_cost * messages.get("email", 0)
    rules = policy.rules
    fixed = policy.strategy != "goals"
    return PolicySummary(
        label=policy.label,
        name=f"{policy.label} · {strategy_label(policy.strategy)}",
        strategy=policy.strategy,
        rates={"*": rules.default_sampling_rate, **rules.sampling_rates} if fixed else None,
        version=tally.version,
        customers=customers,
        surveyed=customers - histogram[0],
        median=quantile(histogram, 0.5),
        p95=quantile(histogram, 0.95),
        max=max((v for v, n in histogram.items() if n), default=0),
        surveys=sum(tally.surveys.values()),
        messages=messages,
        cost=cost.quantize(Decimal("0.01")),
        completes=round(tally.completes, 1),
        outcomes={key: count for key, count in sorted(tally.outcomes.items()) if count},
        histogram=dict(sorted(histogram.items())),
        goals=outcomes,
    )


def reach_of(
    goals: Sequence[Goal],
    ceiling: PolicyTally,
    cells: CellsOf,
    assumptions: Assumptions,
    relaxed: Sequence[tuple[Relaxation, PolicyTally]],
    customers: int,
) -> list[Reach]:
    """For each goal, the stratum-periods that asking everyone allowed cannot bring to the margin, and why."""
    found = []
    for number, goal in enumerate(goals):
        complete = cells(number, ceiling)
        short = {
            key: counted
            for key, counted in complete.items()
            if counted.completes + 1e-9 < needed_completes(goal, assumptions, key[1])
        }
        interactions = sum(c.interactions for c in short.values())
        lost: Counter[str] = Counter()
        for counted in short.values():
            lost.update(counted.lost)
        surveys = sum(c.invitations for c in short.values())
        outcomes = []
        for relaxation, tally in relaxed:
            histogram = surveys_per_customer(tally, customers)
            met = [
                sum(
                    1
                    for key, counted in cells(index, tally).items()
                    if counted.completes + 1e-9 >= needed_completes(other, assumptions, key[1])
                )
                for index, other in enumerate(goals)
            ]
            outcomes.append(
                RelaxationOutcome(
                    description=relaxation.describe(),
                    met=met,
                    periods=[len(cells(index, tally)) for index in range(len(goals))],
                    surveys=sum(tally.surveys.values()),
                    surveyed=customers - histogram[0],
                    p95=quantile(histogram, 0.95),
                    max=max((v for v, n in histogram.items() if n), default=0),
                )
            )
        found.append(
            Reach(
                goal=goal,
                periods=len(complete),
                unreachable=len(short),
                needed=median_of(needed_completes(goal, assumptions, k[1]) for k in short),
                ceiling=_rounded(median_of(c.completes for c in short.values())),
                best_half_width=_rounded(
                    median_of(
                        w
                        for k, c in short.items()
                        if (w := half_width(goal, c.completes, assumptions, k[1])) is not None
                    )
                ),
                lost={reason: round(count / interactions, 4) for reason, count in lost.most_common()}
                if interactions
                else {},
                response_rate=round(sum(c.completes for c in short.values()) / surveys, 4)
                if surveys
                else None,
                relaxations=outcomes,
            )
        )
    return found


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
