"""Run a simulation: each side a policy and a sampling strategy, replayed as many times as the figures need.

Like ``interactions/flow.py`` this module is a face: it composes governance's
replay (``simulation.simulate``) with what higher apps know, through
``simulation_assumptions`` (observed response rates and score shares, the
price of a text, the intervals avis reports). The first replay holds every
side and, per policy, a hidden side asking everyone it allows (the ceiling);
the cheapest fixed rates are then searched (``simulation_search``) and each
try replayed, and, for a goal out of reach, three changes of the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.errors import ValidationFailed
from avis.governance.goal_sampling import GoalSampler
from avis.governance.history import HistoryRow
from avis.governance.simulation import (
    Goal,
    PolicyTally,
    SimulatedPolicy,
    SimulationResult,
    StratumTally,
    goals_of,
    load_policy,
    simulate,
)
from avis.governance.simulation_assumptions import Assumptions, default_sms_cost, needed_completes
from avis.governance.simulation_report import (
    CellsOf,
    Cheapest,
    Report,
    Saving,
    reach_of,
    summarise_side,
)
from avis.governance.simulation_search import DrawModel, Relaxation, cheapest_rates, relaxations

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
        self.draw_salt = organisation.slug if organisation is not None else ""  # as live draws
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
            draw_salt=self.draw_salt,
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
    an unreachable goal are tried. ``history`` is called once per replay (a
    plain iterable is read into memory first).
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
        rows = list(history)  # replayed more than once: kept, which suits small histories only
        history_of: Callable[[], Iterable[HistoryRow]] = lambda: rows  # noqa: E731
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
            summarise_side(
                side.policy,
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
        reach = reach_of(named, ceiling_of[id(base)], complete_cells, assumptions, relaxed, result.customers)
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


def _unreachable(
    goals: Sequence[Goal], ceiling: PolicyTally, cells: CellsOf, assumptions: Assumptions
) -> bool:
    return any(
        counted.completes + 1e-9 < needed_completes(goal, assumptions, key[1])
        for number, goal in enumerate(goals)
        for key, counted in cells(number, ceiling).items()
    )
