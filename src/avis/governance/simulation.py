"""Replay a history of interactions under several sides (a policy, its sampling), in memory, with live rules.

Every interaction goes through ``engine.judge`` exactly as ``decide_contacts``
would send it (same ordering, same sampling draw, same customer state carried
from one verdict to the next), but nothing is written: the simulator keeps one
small state per customer (the solicitations still inside the policy's longest
window) and running tallies, so a year of a million interactions fits in
bounded memory. The history (``history.py``) must come in order of occurrence.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.bulk import collector_paused
from avis.errors import ValidationFailed
from avis.governance.engine import (
    Candidate,
    ContactState,
    Rules,
    inclusion_draw,
    judge,
    ordered,
    remember,
)
from avis.governance.history import HistoryRow
from avis.governance.models import PERIOD_DAYS, ContactPolicy, Dimension, Metric, Period, SamplingGoal
from avis.governance.precision import period_bounds
from avis.governance.services import (
    EDITABLE_POLICY_FIELDS,
    clean_policy,
    current_policy,
    inclusion_sampler,
    rules_of,
    valid_margin,
)

# --- policies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedPolicy:
    """One side of a simulation: a policy's rules, and how it draws its sample."""

    label: str
    rules: Rules
    version: int | None = None  # a stored version, or None for an edited one
    goals: tuple[Mapping[str, Any], ...] = ()  # precision goals given with the policy (its own strategy)
    strategy: str = "rates"  # rates (the policy's fixed rates) | goals | everyone | cheapest | a share

    def with_rates(
        self, *, default: float, rates: Mapping[str, float], label: str, strategy: str
    ) -> SimulatedPolicy:
        """The same policy drawing at fixed rates (per touchpoint, else ``default``)."""
        rules = replace(self.rules, default_sampling_rate=default, sampling_rates=dict(rates))
        return replace(self, label=label, rules=rules, strategy=strategy)


def load_policy(
    *, spec: str | Mapping[str, Any], organisation: Organisation | None = None
) -> SimulatedPolicy:
    """``current``, ``v3`` (a stored version), a JSON file's path, or the JSON object itself.

    A JSON policy holds the fields the policy API accepts; the fields it leaves
    out come from the organisation's current version (or the defaults).
    """
    if isinstance(spec, str):
        wanted = spec.strip()
        version = re.fullmatch(r"v?(\d+)", wanted)
        if wanted == "current" or version:
            if organisation is None:
                raise ValidationFailed(_("A stored policy version needs an organisation."))
            if wanted == "current":
                policy = current_policy(organisation=organisation)
            else:
                try:
                    policy = ContactPolicy.objects.get(organisation=organisation, version=int(version[1]))  # type: ignore[index]
                except ObjectDoesNotExist:
                    raise ValidationFailed(
                        _("There is no policy version %(spec)s.") % {"spec": wanted}
                    ) from None
            return SimulatedPolicy(f"v{policy.version}", rules_of(policy), policy.version)
        try:
            with open(wanted, encoding="utf-8") as handle:
                changes = json.load(handle)
        except OSError as exc:
            raise ValidationFailed(_("Cannot read the policy file %(path)s: %(problem)s") % {
                "path": wanted, "problem": exc.strerror}) from None  # fmt: skip
        except json.JSONDecodeError as exc:
            raise ValidationFailed(
                _("The policy file is not valid JSON: %(problem)s") % {"problem": exc}
            ) from None
        label = wanted.rsplit("/", 1)[-1].removesuffix(".json")
    else:
        changes, label = dict(spec), _("edited")
    return edited_policy(changes=changes, organisation=organisation, label=label)


def edited_policy(
    *, changes: Mapping[str, Any], organisation: Organisation | None, label: str
) -> SimulatedPolicy:
    """A policy that is not stored: a base version plus changes, checked as the policy API checks them."""
    if not isinstance(changes, Mapping):
        raise ValidationFailed(_("A policy is a JSON object of policy fields."))
    goals = changes.get("goals") or []
    if not isinstance(goals, list):
        raise ValidationFailed(_("goals is a list of precision goals."))
    changes = {name: value for name, value in changes.items() if name != "goals"}
    unknown = set(changes) - set(EDITABLE_POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("Unknown policy fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        )
    base = current_policy(organisation=organisation) if organisation is not None else ContactPolicy()
    values = clean_policy({name: getattr(base, name) for name in EDITABLE_POLICY_FIELDS} | dict(changes))
    return SimulatedPolicy(label, rules_of(ContactPolicy(version=0, **values)), goals=tuple(goals))


# --- precision goals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A precision goal, as a stored SamplingGoal or a what-if given with the policy."""

    metric: str
    dimension: str
    period: str
    margin: float
    confidence: float = 0.95
    touchpoint: str = ""

    def stratum(self, row: HistoryRow) -> str | None:
        if self.touchpoint and row.touchpoint != self.touchpoint:
            return None
        if self.dimension == Dimension.TOUCHPOINT:
            return row.touchpoint
        return (row.team if self.dimension == Dimension.TEAM else row.agent) or None

    def period_of(self, moment: datetime | date) -> str:
        day = moment.date() if isinstance(moment, datetime) else moment
        if self.period == Period.WEEK:
            year, week, _day = day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.period == Period.QUARTER:
            return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        return f"{day.year}-{day.month:02d}"

    def is_complete(self, period: str, first: date, last: date) -> bool:
        """Whether a history running from day ``first`` to day ``last`` covers the whole period."""
        start, end = self.bounds(period)
        return first <= start and end - timedelta(days=1) <= last

    def bounds(self, period: str) -> tuple[date, date]:
        """The first day of a period named by ``period_of``, and the first day after it."""
        if self.period == Period.WEEK:
            year, week = period.split("-W")
            return period_bounds(self.period, date.fromisocalendar(int(year), int(week), 1))
        year, rest = period.split("-")
        month = (int(rest[1:]) - 1) * 3 + 1 if self.period == Period.QUARTER else int(rest)
        return period_bounds(self.period, date(int(year), month, 1))

    @property
    def period_days(self) -> float:
        return float(PERIOD_DAYS[self.period])

    def describe(self) -> str:
        scope = f" ({self.touchpoint})" if self.touchpoint else ""
        return _("%(metric)s per %(dimension)s per %(period)s within ±%(margin)s points%(scope)s") % {
            "metric": Metric(self.metric).label,
            "dimension": Dimension(self.dimension).label,
            "period": Period(self.period).label,
            "margin": f"{self.margin:g}",
            "scope": scope,
        }


def goals_of(*, organisation: Organisation | None, extra: Sequence[Mapping[str, Any]] = ()) -> list[Goal]:
    """The organisation's active goals, then the what-if goals given with a policy, each once."""
    goals: list[Goal] = []
    if organisation is not None:
        rows = SamplingGoal.objects.filter(organisation=organisation, is_active=True).select_related(
            "touchpoint"
        )
        goals += [
            Goal(
                g.metric,
                g.dimension,
                g.period,
                g.margin,
                g.confidence,
                g.touchpoint.code if g.touchpoint else "",
            )
            for g in rows.order_by("id")
        ]
    for index, given in enumerate(extra):
        try:
            goal = Goal(
                metric=str(given.get("metric", Metric.NPS)),
                dimension=str(given.get("dimension", Dimension.TOUCHPOINT)),
                period=str(given.get("period", Period.MONTH)),
                margin=float(given["margin"]),
                confidence=float(given.get("confidence", 0.95)),
                touchpoint=str(given.get("touchpoint") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValidationFailed(
                _("Goal %(index)s needs a margin in points.") % {"index": index + 1}
            ) from None
        if (
            goal.metric not in Metric.values
            or goal.dimension not in Dimension.values
            or goal.period not in Period.values
            or not valid_margin(goal.margin)
            or not 0.5 <= goal.confidence < 1
        ):
            raise ValidationFailed(_("Goal %(index)s is not a valid precision goal.") % {"index": index + 1})
        goals.append(goal)
    return list(dict.fromkeys(goals))


# --- sampling: the same inclusion probabilities as live decisions ------------------------------------


class Sampling:
    """The inclusion probability of a row: the organisation's goal rates if it has any, else the policy's.

    With an organisation, the live sampler itself answers (its goals and their
    current per-stratum rates), fed with the row's touchpoint, team and agent;
    a team or agent it has never seen is a new stratum, surveyed in full until
    measured, as it would be live.
    """

    def __init__(self, organisation: Organisation | None = None) -> None:
        self.live = inclusion_sampler(organisation) if organisation is not None else None
        self._ids: dict[str, dict[str, int]] = {}
        if self.live is not None:
            self._ids = {
                "touchpoint": {code: i for i, code in self.live.touchpoints.items()},
                "team": {code: i for i, code in self.live.teams.items()},
                "agent": {code: i for i, code in self.live.agents.items()},
            }

    def _id(self, kind: str, code: str) -> int | None:
        if not code or self.live is None:
            return None
        known = self._ids[kind]
        if code not in known:
            known[code] = -len(known) - 1  # a new one, as live ingest would create it
            getattr(self.live, f"{kind}s")[known[code]] = code
        return known[code]

    def probability(self, rules: Rules, row: HistoryRow) -> tuple[float, dict[str, Any]]:
        if self.live is None or not self.live.goals:
            return rules.sampling_rate(row.touchpoint), {}
        like = SimpleNamespace(
            touchpoint_id=self._id("touchpoint", row.touchpoint),
            team_id=self._id("team", row.team),
            agent_id=self._id("agent", row.agent),
        )
        return self.live.probability(rules, like)  # type: ignore[arg-type]

    def observe(self, row: HistoryRow, reason: str, surveyed: bool, completes: float) -> None:
        """Today's rates stay as they are: nothing to learn."""


# --- the replay ----------------------------------------------------------------------------------

# Reasons of decisions that got as far as the sampling draw and would have been sent if drawn.
DRAWABLE = frozenset({"eligible", "quiet_hours", "not_sampled"})


class SideSampler(Protocol):
    """How one side draws: ``probability`` before each verdict, ``observe`` after it."""

    def probability(self, rules: Rules, row: HistoryRow) -> tuple[float, dict[str, Any]]: ...

    def observe(self, row: HistoryRow, reason: str, surveyed: bool, completes: float) -> None: ...


@dataclass
class StratumTally:
    """One stratum and period of a named goal, under one side."""

    interactions: int = 0  # contact-only ones aside, as live precision counts them
    invitations: int = 0
    completes: float = 0.0  # expected, from the response rate
    lost: Counter[str] = field(default_factory=Counter)  # skip reason → interactions not asked


# One interaction that reached the draw: its draw, its expected completes and its strata-periods.
Drawable = tuple[float, float, tuple[tuple[int, str, str], ...]]


@dataclass
class PolicyTally:
    """What one side would have done over the whole history."""

    label: str
    version: int | None
    outcomes: Counter[str] = field(default_factory=Counter)  # "skip/cap_reached" → decisions
    surveys: Counter[str] = field(default_factory=Counter)  # customer → surveys
    messages: Counter[str] = field(default_factory=Counter)  # channel → messages
    completes: float = 0.0
    strata: dict[tuple[int, str, str], StratumTally] = field(
        default_factory=dict
    )  # goal index, stratum, period
    # Per touchpoint, every interaction that reached the draw (kept only when asked for): enough to
    # tell what any other fixed rate would have drawn, pressure aside.
    drawable: dict[str, list[Drawable]] | None = None


@dataclass
class SimulationResult:
    interactions: int
    customers: int
    first: datetime | None
    last: datetime | None
    goals: list[Goal]
    policies: list[PolicyTally]


@dataclass(frozen=True)
class _Counted:
    """What one survey added to a tally, kept while it may still be outranked."""

    customer: str
    channel: str
    completes: float
    outcome: str
    strata: tuple[tuple[int, str, str], ...]
    planned_at: datetime


def simulate(
    *,
    history: Iterable[HistoryRow],
    policies: Sequence[SimulatedPolicy],
    draw_salt: str = "",
    surveyable: Callable[[str], bool] = lambda touchpoint: True,
    sampling: SideSampler | None = None,
    samplers: Sequence[SideSampler | None] = (),
    goals: Sequence[Goal] = (),
    response_rate: Callable[[HistoryRow], float] = lambda row: 0.3,
    keep_drawable: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    on_decision: Callable[[int, str, str, str], None] | None = None,
) -> SimulationResult:
    """Decide every interaction of the history under each side, as live decisions in replay would.

    Each side draws with its own sampler (``samplers[i]``, else ``sampling``,
    else its policy's rates). ``goals`` are the goals reported: every side is
    tallied per stratum and period of each. Sides listed in ``keep_drawable``
    keep every interaction that reached the draw (``PolicyTally.drawable``).
    ``on_decision(policy_index, external_id, outcome, reason)`` hears every
    verdict, and again ``skip``/``outranked`` for a deferred survey that a
    higher-priority one later took the place of.
    """
    default = sampling or Sampling()
    side_samplers = [(samplers[i] if i < len(samplers) else None) or default for i in range(len(policies))]
    states: dict[str, list[ContactState]] = {}  # customer → one state per policy
    tallies = [PolicyTally(p.label, p.version) for p in policies]
    for index in keep_drawable:
        tallies[index].drawable = {}
    waiting: list[dict[str, _Counted]] = [{} for _ in policies]  # deferred surveys that may be outranked
    interactions = 0
    first: datetime | None = None
    last: datetime | None = None
    group: list[HistoryRow] = []
    memories = [timedelta(days=p.rules.memory_days) for p in policies]
    refusals: dict[frozenset[str], set[str]] = {}

    def decide(rows: list[HistoryRow]) -> None:
        moment = rows[0].occurred_at
        by_key = {row.key: row for row in rows}
        cells_of = {
            row.key: tuple(
                (number, stratum, goal.period_of(row.occurred_at))
                for number, goal in enumerate(goals)
                if (stratum := goal.stratum(row)) is not None
            )
            for row in rows
        }
        draws = {row.key: inclusion_draw(salt=draw_salt, key=row.key) for row in rows}
        candidates = [
            (
                Candidate(
                    key=row.key,
                    touchpoint=row.touchpoint,
                    occurred_at=row.occurred_at,
                    surveyable=surveyable(row.touchpoint),
                    contact_only=row.contact_only,
                    attributes={},
                ),
                row.occurred_at,
            )
            for row in rows
        ]
        for index, policy in enumerate(policies):
            rules, tally, memory = policy.rules, tallies[index], memories[index]
            sampler = side_samplers[index]
            for candidate, at in ordered(candidates, rules) if len(candidates) > 1 else candidates:
                row = by_key[candidate.key]
                state = states[row.customer][index]
                _forget_old(state, at - memory)
                probability, context = sampler.probability(rules, row)
                verdict = judge(
                    rules=rules,
                    state=state,
                    candidate=candidate,
                    at=at,
                    probability=probability,
                    draw=draws[candidate.key],
                    sampling=context,
                )
                for displaced in verdict.displaces:
                    counted_before = waiting[index].pop(displaced.ref, None)
                    if counted_before is not None:
                        _withdraw(tally, counted_before)
                    if on_decision is not None:
                        on_decision(index, displaced.ref, "skip", "outranked")
                remember(state, verdict, candidate, rules)
                outcome = f"{verdict.outcome}/{verdict.reason}"
                tally.outcomes[outcome] += 1
                if on_decision is not None:
                    on_decision(index, candidate.key, verdict.outcome, verdict.reason)
                surveyed = verdict.outcome != "skip"
                completes = response_rate(row) if surveyed or tally.drawable is not None else 0.0
                cells = cells_of[row.key]
                if not row.contact_only:
                    for key in cells:
                        stratum = tally.strata.get(key)
                        if stratum is None:
                            stratum = tally.strata[key] = StratumTally()
                        stratum.interactions += 1
                        if not surveyed:
                            stratum.lost[verdict.reason] += 1
                sampler.observe(row, verdict.reason, surveyed, completes)
                if tally.drawable is not None and verdict.reason in DRAWABLE:
                    tally.drawable.setdefault(row.touchpoint, []).append((draws[row.key], completes, cells))
                if surveyed:
                    counted = _Counted(
                        customer=row.customer,
                        channel=verdict.channel,
                        completes=completes,
                        outcome=outcome,
                        strata=cells,
                        planned_at=verdict.planned_at or at,
                    )
                    _count(tally, counted)
                    if verdict.outcome == "defer":
                        waiting[index][candidate.key] = counted
        if interactions % 5000 < len(rows):  # now and then, forget surveys that have left
            for pending in waiting:
                for key in [k for k, c in pending.items() if c.planned_at <= moment]:
                    del pending[key]

    # Each customer keeps a few objects alive for the whole replay, none in a cycle: automatic
    # full collections would walk them all again and again, a cost growing with the customers.
    with collector_paused():
        for row in history:
            if last is not None and row.occurred_at < last:
                raise ValidationFailed(
                    _(
                        "The history is not in order of occurrence: %(key)s occurred before "
                        "the interaction above it. Sort the file by occurred_at."
                    )
                    % {"key": row.key}
                )
            if group and row.occurred_at != group[0].occurred_at:
                decide(group)
                group = []
            if row.customer not in states:
                states[row.customer] = [ContactState() for _ in policies]
            for state in states[row.customer]:  # the customer as this interaction reports them
                state.time_zone, state.country = row.time_zone, row.country
                state.has_email, state.has_phone = row.has_email, row.has_phone
                # One set per distinct refusal, shared: the rules only read it.
                state.refused = refusals.setdefault(row.refused, set(row.refused))
                state.attributes = row.attributes
            group.append(row)
            interactions += 1
            first = first or row.occurred_at
            last = row.occurred_at
            if progress is not None and interactions % 10_000 == 0:
                progress(interactions)
        if group:
            decide(group)
        if progress is not None:
            progress(interactions)
    return SimulationResult(interactions, len(states), first, last, list(goals), tallies)


def _forget_old(state: ContactState, horizon: datetime) -> None:
    """Solicitations older than the policy's longest memory can no longer change a decision."""
    if state.solicitations and any(s.at <= horizon for s in state.solicitations):
        state.solicitations = [s for s in state.solicitations if s.at > horizon]


def _count(tally: PolicyTally, counted: _Counted, sign: int = 1) -> None:
    tally.surveys[counted.customer] += sign
    tally.messages[counted.channel] += sign
    tally.completes += sign * counted.completes
    for key in counted.strata:
        stratum = tally.strata.setdefault(key, StratumTally())
        stratum.invitations += sign
        stratum.completes += sign * counted.completes


def _withdraw(tally: PolicyTally, counted: _Counted) -> None:
    """A deferred survey outranked by a higher-priority one: it never leaves."""
    _count(tally, counted, sign=-1)
    tally.outcomes[counted.outcome] -= 1
    tally.outcomes["skip/outranked"] += 1


# --- summaries of a tally --------------------------------------------------------------------------


def surveys_per_customer(tally: PolicyTally, customers: int) -> Counter[int]:
    """How many customers received 0, 1, 2… surveys."""
    histogram = Counter(count for count in tally.surveys.values() if count > 0)
    histogram[0] = customers - sum(histogram.values())
    return histogram


def quantile(histogram: Mapping[int, int], share: float) -> int:
    """The smallest value with at least ``share`` of the population at or below it."""
    total = sum(histogram.values())
    if not total:
        return 0
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= share * total:
            return value
    return max(histogram)


def median_of(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None
