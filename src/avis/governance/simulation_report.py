"""What a simulated policy would cost and deliver, for ``avis simulate`` and the simulation page.

Like ``interactions/flow.py`` this module is a face: it composes governance's
replay (``simulation.simulate``) with what higher apps know: observed response
rates and score distributions (surveys), the price of a text message
(messaging) and the confidence intervals avis reports everywhere (analytics),
so that "within ±10 points" here means what it means on the metrics page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.analytics.stats import nps, wilson
from avis.governance.models import Metric
from avis.governance.simulation import (
    Goal,
    HistoryRow,
    PolicyTally,
    Sampling,
    goals_of,
    load_policy,
    median_of,
    quantile,
    simulate,
    surveys_per_customer,
)
from avis.messaging.billing import price_per_segment
from avis.messaging.sms_encoding import measure_sms

# A typical first text of an SMS survey, to count its segments when no text was ever sent.
SAMPLE_SMS = "Assurances du Centre: how did it go? Two minutes to tell us: https://avis.example/s/3f9a8c1d7b2e4f60a5c9d8e7f6a5b4c3"
MIN_INVITATIONS = 20  # below this many, a touchpoint's own response rate is too noisy to use


@dataclass
class Assumptions:
    """What the replay cannot observe: who answers, how they score, what a text costs."""

    response_rate: float = 0.3
    # Observed, where a stratum had enough invitations: per touchpoint, team and agent.
    response_rates: dict[str, float] = field(default_factory=dict)
    team_rates: dict[str, float] = field(default_factory=dict)
    agent_rates: dict[str, float] = field(default_factory=dict)
    promoters: float = 0.5  # shares of NPS answers
    detractors: float = 0.2
    satisfied: float = 0.8  # share of CSAT 4–5 and of "resolved"
    sms_cost: Decimal = Decimal("0.05")  # per message
    email_cost: Decimal = Decimal("0")
    source: str = "parameters"  # or "observed": read from the organisation's last 12 months

    def rate(self, row: HistoryRow) -> float:
        """The narrowest observed rate: the agent's, else the team's, else the touchpoint's, else overall."""
        for rates, key in ((self.agent_rates, row.agent), (self.team_rates, row.team)):
            if key and key in rates:
                return rates[key]
        return self.response_rates.get(row.touchpoint, self.response_rate)


def default_sms_cost() -> Decimal:
    """The configured price per segment times the segments of a typical invitation text."""
    return price_per_segment() * measure_sms(SAMPLE_SMS).segments


def observed_assumptions(
    *, organisation: Organisation, defaults: Assumptions, now: datetime | None = None
) -> Assumptions:
    """Response rates per touchpoint, score shares and SMS cost from the organisation's last 12 months."""
    from avis.messaging.models import OutboundMessage
    from avis.surveys.models import Answer, Invitation, QuestionKind, Response

    since = (now or timezone.now()) - timedelta(days=365)

    def counts(path: str) -> tuple[dict[str, int], dict[str, int]]:
        invitations = Invitation.objects.filter(organisation=organisation, planned_at__gte=since)
        responses = Response.objects.filter(organisation=organisation, invitation__planned_at__gte=since)
        return (
            dict(invitations.filter(**{f"{path}__isnull": False}).values_list(path).annotate(n=Count("id"))),
            dict(responses.values_list(f"invitation__{path}").annotate(n=Count("id"))),
        )

    def rates(path: str) -> dict[str, float]:
        invited, answered = counts(path)
        return {key: answered.get(key, 0) / n for key, n in invited.items() if n >= MIN_INVITATIONS}

    invited, answered = counts("touchpoint__code")
    if not invited:
        return defaults
    overall = sum(answered.values()) / sum(invited.values())
    answers = Answer.objects.filter(organisation=organisation, answered_at__gte=since, not_applicable=False)
    scores = answers.filter(kind=QuestionKind.NPS, number__isnull=False).aggregate(
        n=Count("id"), top=Count("id", filter=Q(number__gte=9)), bottom=Count("id", filter=Q(number__lte=6))
    )
    csat = answers.filter(kind=QuestionKind.CSAT, number__isnull=False).aggregate(
        n=Count("id"), top=Count("id", filter=Q(number__gte=4))
    )
    sms = OutboundMessage.objects.filter(
        organisation=organisation, channel="sms", created_at__gte=since, cost__gt=0
    )
    cost = sms.aggregate(mean=Avg("cost"))["mean"]
    return Assumptions(
        response_rate=overall if sum(invited.values()) >= MIN_INVITATIONS else defaults.response_rate,
        response_rates=rates("touchpoint__code"),
        team_rates=rates("interaction__team__code"),
        agent_rates=rates("interaction__agent__external_id"),
        promoters=scores["top"] / scores["n"] if scores["n"] >= MIN_INVITATIONS else defaults.promoters,
        detractors=scores["bottom"] / scores["n"] if scores["n"] >= MIN_INVITATIONS else defaults.detractors,
        satisfied=csat["top"] / csat["n"] if csat["n"] >= MIN_INVITATIONS else defaults.satisfied,
        sms_cost=Decimal(cost).quantize(Decimal("0.0001")) if cost else defaults.sms_cost,
        email_cost=defaults.email_cost,
        source="observed",
    )


def half_width(goal: Goal, completes: float, assumptions: Assumptions) -> float | None:
    """Expected half-width of the goal's interval, in points, with ``completes`` answers; None with none."""
    n = int(completes)
    if n <= 0:
        return None
    if goal.metric == Metric.NPS:
        promoters = round(n * assumptions.promoters)
        detractors = round(n * assumptions.detractors)
        estimate = nps(promoters, n - promoters - detractors, detractors, confidence=goal.confidence)
        return (estimate.ci_high - estimate.ci_low) / 2  # type: ignore[operator]
    estimate = wilson(round(n * assumptions.satisfied), n, confidence=goal.confidence)
    return 100 * (estimate.ci_high - estimate.ci_low) / 2  # type: ignore[operator]


@dataclass
class StratumOutcome:
    stratum: str
    period: str
    invitations: int
    completes: float
    half_width: float | None
    met: bool


@dataclass
class GoalOutcome:
    goal: Goal
    description: str
    strata: list[StratumOutcome]

    @property
    def met(self) -> int:
        return sum(s.met for s in self.strata)

    @property
    def all_met(self) -> bool:
        return bool(self.strata) and self.met == len(self.strata)

    @property
    def median_half_width(self) -> float | None:
        return median_of(s.half_width for s in self.strata if s.half_width is not None)


@dataclass
class PolicySummary:
    label: str
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

    @property
    def share_surveyed(self) -> float:
        return self.surveyed / self.customers if self.customers else 0.0


@dataclass
class Report:
    interactions: int
    customers: int
    first: datetime | None
    last: datetime | None
    assumptions: Assumptions
    policies: list[PolicySummary]

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
            for goal, outcome in zip(data["goals"], summary.goals, strict=True):
                goal |= {
                    "description": outcome.description,
                    "met": outcome.met,
                    "all_met": outcome.all_met,
                    "median_half_width": outcome.median_half_width,
                }
            policies.append(data)
        return plain(
            {
                "interactions": self.interactions,
                "customers": self.customers,
                "first": self.first,
                "last": self.last,
                "assumptions": asdict(self.assumptions),
                "policies": policies,
            }
        )


def _summary(
    tally: PolicyTally, customers: int, goals: Sequence[Goal], assumptions: Assumptions
) -> PolicySummary:
    histogram = surveys_per_customer(tally, customers)
    outcomes: list[GoalOutcome] = []
    for number, goal in enumerate(goals):
        strata = []
        for (index, stratum, period), counted in sorted(tally.strata.items()):
            if index != number:
                continue
            width = half_width(goal, counted.completes, assumptions)
            strata.append(
                StratumOutcome(
                    stratum=stratum,
                    period=period,
                    invitations=counted.invitations,
                    completes=round(counted.completes, 2),
                    half_width=None if width is None else round(width, 2),
                    met=width is not None and width <= goal.margin,
                )
            )
        outcomes.append(GoalOutcome(goal, goal.describe(), strata))
    messages = {channel: count for channel, count in sorted(tally.messages.items()) if count}
    cost = assumptions.sms_cost * messages.get("sms", 0) + assumptions.email_cost * messages.get("email", 0)
    return PolicySummary(
        label=tally.label,
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


def run_simulation(
    *,
    history: Iterable[HistoryRow],
    policies: Sequence[str | Mapping[str, Any]],
    organisation: Organisation | None = None,
    assumptions: Assumptions | None = None,
    goals: Sequence[Mapping[str, Any]] = (),
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Replay ``history`` under one or two policies and sum up, for each, what a person deciding needs.

    Precision goals are the organisation's active ones plus any given here or
    in a policy file's ``"goals"`` list.
    """
    loaded = [load_policy(spec=spec, organisation=organisation) for spec in policies]
    extra = [*goals, *(goal for policy in loaded for goal in policy.goals)]
    all_goals = goals_of(organisation=organisation, extra=extra)
    assumptions = assumptions or Assumptions(sms_cost=default_sms_cost())
    surveyable: Callable[[str], bool] = lambda touchpoint: True  # noqa: E731
    if organisation is not None:
        from avis.surveys.models import Survey

        codes = set(
            Survey.objects.filter(organisation=organisation, is_active=True).values_list(
                "touchpoint__code", flat=True
            )
        )
        surveyable = codes.__contains__
    result = simulate(
        history=history,
        policies=loaded,
        organisation_id=organisation.id if organisation is not None else 0,
        surveyable=surveyable,
        sampling=Sampling(organisation),
        goals=all_goals,
        response_rate=assumptions.rate,
        progress=progress,
    )
    return Report(
        interactions=result.interactions,
        customers=result.customers,
        first=result.first,
        last=result.last,
        assumptions=assumptions,
        policies=[_summary(tally, result.customers, all_goals, assumptions) for tally in result.policies],
    )
