"""What a simulation assumes and cannot observe: who answers, how they score, what a text costs.

Read from the organisation's last 12 months where there is enough of it, else
given. With them, the expected half-width of a goal's interval for a number of
completes, and the completes a margin needs, computed with the intervals every
screen shows (``analytics.stats``) so that "within ±10 points" here means what
it means on the metrics page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from django.db.models import Avg, Count, Q
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.analytics.stats import nps, wilson
from avis.governance.history import HistoryRow
from avis.governance.models import Metric
from avis.governance.simulation import Goal
from avis.messaging.billing import price_per_segment
from avis.messaging.sms_encoding import measure_sms

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
    # Observed where a stratum had enough answers, keyed "team:lyon", "agent:A-17", "touchpoint:…":
    # (promoters, detractors, satisfied). Strata differ: a steady team needs fewer answers.
    stratum_scores: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def rate(self, row: HistoryRow) -> float:
        """The narrowest observed rate: the agent's, else the team's, else the touchpoint's, else overall."""
        for rates, key in ((self.agent_rates, row.agent), (self.team_rates, row.team)):
            if key and key in rates:
                return rates[key]
        return self.response_rates.get(row.touchpoint, self.response_rate)

    def scores(self, goal: Goal, stratum: str) -> tuple[float, float]:
        """Shares of top and bottom answers in a stratum: promoters and detractors, or satisfied and 0."""
        promoters, detractors, satisfied = self.stratum_scores.get(
            f"{goal.dimension}:{stratum}", (self.promoters, self.detractors, self.satisfied)
        )
        return (promoters, detractors) if goal.metric == Metric.NPS else (satisfied, 0.0)


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
    promoters = scores["top"] / scores["n"] if scores["n"] >= MIN_INVITATIONS else defaults.promoters
    detractors = scores["bottom"] / scores["n"] if scores["n"] >= MIN_INVITATIONS else defaults.detractors
    satisfied = csat["top"] / csat["n"] if csat["n"] >= MIN_INVITATIONS else defaults.satisfied
    stratum_scores: dict[str, tuple[float, float, float]] = {}
    for dimension, path in (
        ("touchpoint", "touchpoint__code"),
        ("team", "team__code"),
        ("agent", "agent__external_id"),
    ):
        nps_of = {
            key: (n, top, bottom)
            for key, n, top, bottom in answers.filter(kind=QuestionKind.NPS, number__isnull=False)
            .values_list(path)
            .annotate(
                n=Count("id"),
                top=Count("id", filter=Q(number__gte=9)),
                bottom=Count("id", filter=Q(number__lte=6)),
            )
            if key and n >= MIN_INVITATIONS
        }
        csat_of = {
            key: (n, top)
            for key, n, top in answers.filter(kind=QuestionKind.CSAT, number__isnull=False)
            .values_list(path)
            .annotate(n=Count("id"), top=Count("id", filter=Q(number__gte=4)))
            if key and n >= MIN_INVITATIONS
        }
        for key in {*nps_of, *csat_of}:
            n, top, bottom = nps_of.get(key, (0, 0, 0))
            answered, happy = csat_of.get(key, (0, 0))
            stratum_scores[f"{dimension}:{key}"] = (
                top / n if n else promoters,
                bottom / n if n else detractors,
                happy / answered if answered else satisfied,
            )
    return Assumptions(
        response_rate=overall if sum(invited.values()) >= MIN_INVITATIONS else defaults.response_rate,
        response_rates=rates("touchpoint__code"),
        team_rates=rates("interaction__team__code"),
        agent_rates=rates("interaction__agent__external_id"),
        promoters=promoters,
        detractors=detractors,
        satisfied=satisfied,
        stratum_scores=stratum_scores,
        sms_cost=Decimal(cost).quantize(Decimal("0.0001")) if cost else defaults.sms_cost,
        email_cost=defaults.email_cost,
        source="observed",
    )


def half_width(goal: Goal, completes: float, assumptions: Assumptions, stratum: str = "") -> float | None:
    """Expected half-width of the goal's interval, in points, with ``completes`` answers; None with none."""
    top, bottom = assumptions.scores(goal, stratum)
    return _half_width(goal.metric, goal.confidence, int(completes), top, bottom)


@lru_cache(maxsize=65_536)
def _half_width(metric: str, confidence: float, n: int, top: float, bottom: float) -> float | None:
    if n <= 0:
        return None
    # Expected counts, not rounded ones: the half-width then shrinks steadily as answers come, so
    # "met" is the same as "at least the completes needed" (``needed_completes``).
    if metric == Metric.NPS:
        promoters, detractors = n * top, n * bottom
        estimate = nps(promoters, n - promoters - detractors, detractors, confidence=confidence)  # type: ignore[arg-type]
        return (estimate.ci_high - estimate.ci_low) / 2  # type: ignore[operator]
    estimate = wilson(n * top, n, confidence=confidence)  # type: ignore[arg-type]
    return 100 * (estimate.ci_high - estimate.ci_low) / 2  # type: ignore[operator]


def needed_completes(goal: Goal, assumptions: Assumptions, stratum: str = "") -> int:
    """The fewest completes whose interval is within the goal's margin, with the stratum's score shares."""
    top, bottom = assumptions.scores(goal, stratum)
    return _needed(goal.metric, goal.confidence, goal.margin, top, bottom)


@lru_cache(maxsize=4096)
def _needed(metric: str, confidence: float, margin: float, top: float, bottom: float) -> int:
    low, high = 1, 1
    while (_half_width(metric, confidence, high, top, bottom) or 0) > margin:
        low, high = high, high * 2
    while low < high:
        middle = (low + high) // 2
        if (_half_width(metric, confidence, middle, top, bottom) or 0) > margin:
            low = middle + 1
        else:
            high = middle
    return high
