"""What a simulated policy would cost and deliver, for ``avis simulate`` and the simulation page.

Like ``interactions/flow.py`` this module is a face: it composes governance's
replay (``simulation.simulate``) with what higher apps know: observed response
rates and score distributions (surveys), the price of a text message
(messaging) and the confidence intervals avis reports everywhere (analytics),
so that "within ±10 points" here means what it means on the metrics page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from avis.accounts.models import Organisation
from avis.analytics.stats import nps, wilson
from avis.errors import ValidationFailed
from avis.governance.goal_sampling import GoalSampler
from avis.governance.models import Metric
from avis.governance.simulation import (
    Goal,
    HistoryRow,
    PolicyTally,
    SimulatedPolicy,
    SimulationResult,
    StratumTally,
    goals_of,
    load_policy,
    median_of,
    quantile,
    simulate,
    surveys_per_customer,
)
from avis.governance.simulation_search import DrawModel, Relaxation, cheapest_rates, relaxations
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


# --- sides: a policy and a sampling strategy ------------------------------------------------------

STRATEGIES = ("goals", "rates", "everyone", "cheapest")


def parse_side(spec: str | Mapping[str, Any]) -> tuple[str | Mapping[str, Any], str | None]:
    """``current@goals``, ``v3@0.35``, ``strict.json@everyone``, ``{"policy": …, "strategy": …}``."""
    if isinstance(spec, Mapping):
        if "policy" in spec and set(spec) <= {"policy", "strategy"}:
            return spec["policy"], _strategy(spec.get("strategy"))
        return spec, None
    policy, _at, strategy = spec.partition("@")
    return policy, _strategy(strategy if _at else None)


def _strategy(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text in STRATEGIES:
        return text
    try:
        share = float(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        raise ValidationFailed(
            _("A sampling strategy is goals, rates, everyone, cheapest or a rate such as 0.35 (%(value)s).")
            % {"value": value}
        )
    return f"{share:g}"


def strategy_label(strategy: str, rates: Mapping[str, float] | None = None) -> str:
    if strategy == "goals":
        return _("precision goals")
    if strategy == "rates":
        return _("the policy's fixed rates")
    if strategy == "everyone":
        return _("everyone the policy allows")
    if strategy == "cheapest":
        return _("cheapest fixed rates meeting the goals")
    return _("fixed rate of %(rate)s %%") % {"rate": f"{float(strategy) * 100:g}"}


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
        return median_of(s.half_width for s in self.strata if s.half_width is not None)

    @property
    def verdict(self) -> str:
        return goal_verdict(self.goal, self.met, len(self.strata))


def stratum_periods(goal: Goal, count: int) -> str:
    """ "team-months", "agent-weeks"… in the reader's language, for ``count`` of them."""
    forms = {
        ("touchpoint", "week"): ngettext("touchpoint-week", "touchpoint-weeks", count),
        ("touchpoint", "month"): ngettext("touchpoint-month", "touchpoint-months", count),
        ("touchpoint", "quarter"): ngettext("touchpoint-quarter", "touchpoint-quarters", count),
        ("team", "week"): ngettext("team-week", "team-weeks", count),
        ("team", "month"): ngettext("team-month", "team-months", count),
        ("team", "quarter"): ngettext("team-quarter", "team-quarters", count),
        ("agent", "week"): ngettext("agent-week", "agent-weeks", count),
        ("agent", "month"): ngettext("agent-month", "agent-months", count),
        ("agent", "quarter"): ngettext("agent-quarter", "agent-quarters", count),
    }
    return forms[goal.dimension, goal.period]


def goal_verdict(goal: Goal, met: int, total: int) -> str:
    """ "met in 2 of 28 team-months": how often, never a bare "not met"."""
    if not total:
        return _("no complete %(periods)s in the history") % {"periods": stratum_periods(goal, 1)}
    return _("met in %(met)s of %(total)s %(periods)s") % {
        "met": met,
        "total": total,
        "periods": stratum_periods(goal, total),
    }


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


# --- the run -----------------------------------------------------------------------------------


@dataclass
class _Side:
    policy: SimulatedPolicy
    goals: tuple[Goal, ...] = ()  # goal-driven: the goals it samples toward
    visible: bool = True


class _Replays:
    """Replays of the same history under more and more sides, and their tallies."""

    def __init__(
        self,
        *,
        history: Callable[[], Iterable[HistoryRow]],
        organisation: Organisation | None,
        goals: Sequence[Goal],
        assumptions: Assumptions,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.history, self.goals, self.assumptions, self.progress = history, goals, assumptions, progress
        self.organisation_id = organisation.id if organisation is not None else 0
        self.surveyable: Callable[[str], bool] = lambda touchpoint: True
        if organisation is not None:
            from avis.surveys.models import Survey

            codes = set(
                Survey.objects.filter(organisation=organisation, is_active=True).values_list(
                    "touchpoint__code", flat=True
                )
            )
            self.surveyable = codes.__contains__
        self.count = 0
        self.result: SimulationResult | None = None

    def run(self, sides: Sequence[_Side], *, keep_drawable: Sequence[int] = ()) -> list[PolicyTally]:
        samplers = [
            GoalSampler(
                side.goals,
                scores=self.assumptions.scores,
                default_response_rate=self.assumptions.response_rate,
            )
            if side.goals
            else None
            for side in sides
        ]
        result = simulate(
            history=self.history(),
            policies=[side.policy for side in sides],
            organisation_id=self.organisation_id,
            surveyable=self.surveyable,
            samplers=samplers,
            goals=self.goals,
            response_rate=self.assumptions.rate,
            keep_drawable=keep_drawable,
            progress=self.progress,
        )
        self.count += 1
        self.result = self.result or result
        return result.policies


def run_simulation(
    *,
    history: Callable[[], Iterable[HistoryRow]] | Iterable[HistoryRow],
    policies: Sequence[str | Mapping[str, Any]],
    organisation: Organisation | None = None,
    assumptions: Assumptions | None = None,
    goals: Sequence[Mapping[str, Any]] = (),
    explain: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Replay ``history`` under each side (a policy and a sampling strategy) and sum up what deciding needs.

    ``policies`` are side specifications (``parse_side``). The goals reported
    on every side are the organisation's active ones, those given here and
    those of each policy file's ``"goals"``. A goal-driven side samples toward
    its own policy file's goals, else toward all of them. With goals, every
    side's stratum-periods are set against the ceiling of its policy (asking
    everyone it allows), and with ``explain`` the policy changes that would lift
    an unreachable goal are tried. ``history`` is called once per replay when
    a side asks for the cheapest fixed rates (a plain iterable allows one).
    """
    assumptions = assumptions or Assumptions(sms_cost=default_sms_cost())
    specs = [parse_side(spec) for spec in policies]
    loaded = [load_policy(spec=policy, organisation=organisation) for policy, _chosen in specs]
    named = goals_of(
        organisation=organisation, extra=[*goals, *(goal for policy in loaded for goal in policy.goals)]
    )
    organisation_goals = organisation is not None and any(
        goal for goal in goals_of(organisation=organisation)
    )
    if not callable(history):
        once = iter(history)
        history_of: Callable[[], Iterable[HistoryRow]] = lambda: once  # noqa: E731
    else:
        history_of = history
    replays = _Replays(
        history=history_of, organisation=organisation, goals=named, assumptions=assumptions, progress=progress
    )

    sides: list[_Side] = []
    cheapest_at: list[int] = []
    for (policy_spec, chosen), policy in zip(specs, loaded, strict=True):
        stored = isinstance(policy_spec, str) and policy.version is not None
        strategy = chosen or ("goals" if policy.goals or (stored and organisation_goals) else "rates")
        if strategy in {"goals", "cheapest"} and not named:
            raise ValidationFailed(
                _("The strategy %(strategy)s needs a precision goal: name one, or give the policy goals.")
                % {"strategy": strategy}
            )
        if strategy == "goals":
            own = goals_of(organisation=None, extra=policy.goals) if policy.goals else named
            sides.append(_Side(replace(policy, strategy="goals"), tuple(own)))
        elif strategy == "rates":
            sides.append(_Side(policy))
        elif strategy == "cheapest":
            cheapest_at.append(len(sides))
            sides.append(_Side(replace(policy, strategy="cheapest"), visible=False))
        else:
            rate = 1.0 if strategy == "everyone" else float(strategy)
            sides.append(
                _Side(policy.with_rates(default=rate, rates={}, label=policy.label, strategy=strategy))
            )

    # Asking everyone each policy allows: the ceiling every stratum-period is set against.
    ceilings: dict[str, int] = {}
    first_pass = [side for side in sides if side.visible]
    if named:
        for side in sides:
            key = _key(side)
            if key not in ceilings:
                ceilings[key] = len(first_pass)
                everyone = side.policy.with_rates(
                    default=1.0, rates={}, label=side.policy.label, strategy="everyone"
                )
                first_pass.append(_Side(everyone, visible=False))
    keep = sorted({ceilings[_key(sides[i])] for i in cheapest_at})
    tallies = dict(zip(map(id, first_pass), replays.run(first_pass, keep_drawable=keep), strict=True))
    result = replays.result
    assert result is not None  # noqa: S101 - a replay has run
    first_day = result.first.date() if result.first else None
    last_day = result.last.date() if result.last else None

    def complete_cells(number: int, tally: PolicyTally) -> dict[tuple[int, str, str], StratumTally]:
        goal = named[number]
        return {
            key: counted
            for key, counted in tally.strata.items()
            if key[0] == number and first_day and last_day and goal.is_complete(key[2], first_day, last_day)
        }

    def met_counts(tally: PolicyTally) -> list[int]:
        return [
            sum(
                1
                for (_n, stratum, _p), counted in complete_cells(number, tally).items()
                if counted.completes + 1e-9 >= needed_completes(goal, assumptions, stratum)
            )
            for number, goal in enumerate(named)
        ]

    ceiling_of = {id(side): tallies[id(first_pass[ceilings[_key(side)]])] for side in sides if named}

    # The cheapest fixed rates, per touchpoint, that meet the goals as often as the goal-driven side does.
    cheapest: Cheapest | None = None
    relaxed: list[tuple[Relaxation, PolicyTally]] = []
    base = sides[0]
    reach_needed = (
        explain and named and _unreachable(named, ceiling_of[id(base)], complete_cells, assumptions)
    )
    pending_relaxations = [
        _Side(
            replace(base.policy, rules=r.rules, label=r.describe(), strategy="goals"),
            tuple(named),
            visible=False,
        )
        for r in (relaxations(base.policy.rules) if reach_needed else [])
    ]
    for index in cheapest_at:
        side = sides[index]
        reference = next((s for s in sides if s.visible and s.goals), None)
        reference_tally = tallies[id(reference)] if reference else ceiling_of[id(side)]
        reference_met = met_counts(reference_tally)
        # Fixed rates may not match goal-driven sampling at all: asking fewer customers leaves more of
        # them within the caps. They are then held to the most that asking everyone reaches.
        targets = [min(a, b) for a, b in zip(reference_met, met_counts(ceiling_of[id(side)]), strict=True)]
        drawable = ceiling_of[id(side)].drawable or {}
        needed = {
            key: needed_completes(named[key[0]], assumptions, key[1])
            for number in range(len(named))
            for key in complete_cells(number, ceiling_of[id(side)])
        }
        found: tuple[dict[str, float], PolicyTally] | None = None
        shortfall = [0] * len(named)
        previous: dict[str, float] | None = None
        for _attempt in range(3):
            model = DrawModel.of(drawable, set(needed))
            aim = {
                number: min(targets[number] + shortfall[number], sum(1 for k in needed if k[0] == number))
                for number in range(len(named))
            }
            rates = cheapest_rates(model, needed=needed, targets=aim)
            if rates is None or rates == previous:
                break
            previous = rates
            trial = _Side(
                side.policy.with_rates(
                    default=side.policy.rules.default_sampling_rate,
                    rates=rates,
                    label=side.policy.label,
                    strategy="cheapest",
                )
            )
            batch = [trial, *pending_relaxations]
            ran = replays.run(batch, keep_drawable=[0])
            relaxed += [(r, t) for r, t in zip(relaxations(base.policy.rules), ran[1:], strict=False)]
            pending_relaxations = []
            tally = ran[0]
            met = met_counts(tally)
            if all(m >= t for m, t in zip(met, targets, strict=True)):
                if found is None or sum(tally.surveys.values()) < sum(found[1].surveys.values()):
                    found = (rates, tally)
            else:
                shortfall = [max(s, t - m) for s, t, m in zip(shortfall, targets, met, strict=True)]
            drawable = tally.drawable or {}
        cheapest = Cheapest(
            rates=found[0] if found else None,
            targets=targets,
            reference=reference.policy.label if reference else _("everyone the policy allows"),
            reference_met=reference_met,
            replays=replays.count,
        )
        if found is not None:
            side.policy = side.policy.with_rates(
                default=side.policy.rules.default_sampling_rate,
                rates=found[0],
                label=side.policy.label,
                strategy="cheapest",
            )
            side.visible = True
            tallies[id(side)] = found[1]
    if pending_relaxations:
        ran = replays.run(pending_relaxations)
        relaxed = list(zip(relaxations(base.policy.rules), ran, strict=True))

    summaries = []
    for side in sides:
        if not side.visible:
            continue
        summaries.append(
            _summary(
                side,
                tallies[id(side)],
                result.customers,
                named,
                assumptions,
                ceiling_of.get(id(side)),
                first_day,
                last_day,
            )
        )
    cheapest_summary = next((s for s in summaries if s.strategy == "cheapest"), None)
    if cheapest_summary is not None:
        for summary in summaries:
            summary.saving = Saving(
                invitations=summary.surveys - cheapest_summary.surveys,
                messages=sum(summary.messages.values()) - sum(cheapest_summary.messages.values()),
                cost=summary.cost - cheapest_summary.cost,
                customers_left_alone=cheapest_summary.surveyed - summary.surveyed,
            )
    reach = []
    if reach_needed:
        reach = _reach(named, ceiling_of[id(base)], complete_cells, assumptions, relaxed, result.customers)
    return Report(
        interactions=result.interactions,
        customers=result.customers,
        first=result.first,
        last=result.last,
        assumptions=assumptions,
        policies=summaries,
        cheapest=cheapest,
        reach=reach,
    )


def _key(side: _Side) -> str:
    """Sides whose pressure rules are the same share one ceiling."""
    return repr(replace(side.policy.rules, version=0, default_sampling_rate=1.0, sampling_rates={}))


CellsOf = Callable[[int, PolicyTally], dict[tuple[int, str, str], StratumTally]]


def _unreachable(
    goals: Sequence[Goal], ceiling: PolicyTally, cells: CellsOf, assumptions: Assumptions
) -> bool:
    return any(
        counted.completes + 1e-9 < needed_completes(goal, assumptions, key[1])
        for number, goal in enumerate(goals)
        for key, counted in cells(number, ceiling).items()
    )


def _stratum_outcomes(
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


def _summary(
    side: _Side,
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
        complete, partial = _stratum_outcomes(goal, number, tally, ceiling, assumptions, first, last)
        outcomes.append(GoalOutcome(goal, goal.describe(), complete, partial))
    messages = {channel: count for channel, count in sorted(tally.messages.items()) if count}
    cost = assumptions.sms_cost * messages.get("sms", 0) + assumptions.email_cost * messages.get("email", 0)
    rules = side.policy.rules
    fixed = side.policy.strategy != "goals"
    return PolicySummary(
        label=side.policy.label,
        name=f"{side.policy.label} · {strategy_label(side.policy.strategy)}",
        strategy=side.policy.strategy,
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


def reason_label(reason: str) -> str:
    """Why an interaction was not asked, in words."""
    labels = {
        "opted_out": _("opted out"),
        "excluded": _("excluded by a rule"),
        "no_survey": _("no active survey"),
        "no_channel": _("no usable channel"),
        "cap_reached": _("a window's cap"),
        "quarantine": _("the quarantine"),
        "touchpoint_gap": _("a touchpoint's gap"),
        "stale": _("too late to send"),
        "outranked": _("outranked by a higher priority"),
        "not_sampled": _("not drawn"),
        "contact_only": _("contact only"),
    }
    return labels.get(reason, reason)


def _reach(
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
