from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from math import isfinite
from typing import Any

import phonenumbers
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.audit.services import record, snapshot
from avis.bulk import insert_rows, insert_values, new_row
from avis.customers.models import Customer
from avis.customers.queries import opted_out_channels
from avis.errors import NotFound, ValidationFailed
from avis.governance.engine import (
    CHANNELS,
    OPERATORS,
    STUDY_SAMPLE,
    Candidate,
    ContactState,
    Exclusion,
    Rules,
    SendingWindow,
    Solicitation,
    Window,
    inclusion_draw,
    judge,
    ordered,
    remember,
)
from avis.governance.engine import next_sending_time as engine_next_sending_time
from avis.governance.models import (
    MARGIN_MAX,
    MARGIN_MIN,
    ContactPolicy,
    Decision,
    Dimension,
    Metric,
    Outcome,
    Period,
    SamplingGoal,
    StratumRate,
)
from avis.governance.precision import StratumObservation, goal_terms, required_probability
from avis.governance.signals import decisions_withdrawn
from avis.interactions.models import Agent, Interaction, Team, Touchpoint
from avis.interactions.signals import ImportedInteraction

# Roles allowed to change the contact policy and the sampling goals.
POLICY_EDITORS = ("admin", "analyst")

EDITABLE_POLICY_FIELDS = (
    "windows",
    "quarantine_days",
    "touchpoint_gaps",
    "priorities",
    "exclusions",
    "freshness_hours",
    "default_sampling_rate",
    "sampling_rates",
    "send_from",
    "send_until",
    "send_on_sunday",
    "send_on_holidays",
    "channel_sending",
)


def current_policy(*, organisation: Organisation) -> ContactPolicy:
    """The latest version; an organisation without one gets the default rules as version 1."""
    policy = ContactPolicy.objects.filter(organisation=organisation).order_by("-version").first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return ContactPolicy.objects.create(organisation=organisation, version=1)
    except IntegrityError:  # another request created version 1 first
        return ContactPolicy.objects.get(organisation=organisation, version=1)


@transaction.atomic
def update_policy(
    *, organisation: Organisation, changes: dict[str, object], created_by: AbstractBaseUser | None = None
) -> ContactPolicy:
    """Publish a new version made of the current one plus the changes."""
    unknown = set(changes) - set(EDITABLE_POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
    base = current_policy(organisation=organisation)
    values = clean_policy({name: getattr(base, name) for name in EDITABLE_POLICY_FIELDS} | changes)
    # Locking the latest version serialises two editors; each gets its own number.
    latest = (
        ContactPolicy.objects.select_for_update()
        .filter(organisation=organisation)
        .order_by("-version")
        .first()
    )
    published = ContactPolicy.objects.create(
        organisation=organisation,
        version=(latest.version if latest else 0) + 1,
        created_by=created_by,
        **values,
    )
    fields = tuple(EDITABLE_POLICY_FIELDS)
    record(
        organisation=organisation,
        action="policy.published",
        target=published,
        object_label=f"version {published.version}",
        before=snapshot(latest, fields=fields),
        after=snapshot(published, fields=fields),
    )
    return published


# No count, day or hour of a policy comes near it; beyond, a database integer would overflow.
LARGEST_WHOLE = 1_000_000


def _whole(value: object, *, field: str, what: str, minimum: int = 0) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or int(value) != value
        or not minimum <= value <= LARGEST_WHOLE
    ):
        raise ValidationFailed(
            f"{what} must be a whole number from {minimum} to {LARGEST_WHOLE:,}.", field=field
        )
    return int(value)


def _clock(value: object, *, field: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"{value!r} is not a time of day such as 10:00.", field=field) from None


def clean_policy(values: dict[str, Any]) -> dict[str, Any]:
    """Check a whole policy and return it in canonical form; the first problem is raised, with its field."""
    windows = values["windows"]
    if not isinstance(windows, list) or not windows:
        raise ValidationFailed(
            "A policy has at least one window: at most N surveys per D days.", field="windows"
        )
    cleaned_windows = []
    for index, window in enumerate(windows):
        if not isinstance(window, dict) or set(window) != {"max", "days"}:
            raise ValidationFailed('Each window is {"max": N, "days": D}.', field=f"windows.{index}")
        cleaned_windows.append(
            {
                "max": _whole(
                    window["max"], field=f"windows.{index}.max", what="The number of surveys", minimum=1
                ),
                "days": _whole(window["days"], field=f"windows.{index}.days", what="The window", minimum=1),
            }
        )
    rates = values["sampling_rates"]
    if not isinstance(rates, dict):
        raise ValidationFailed("Sampling rates are given per touchpoint code.", field="sampling_rates")
    for code, rate in [("default", values["default_sampling_rate"]), *rates.items()]:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
            raise ValidationFailed(
                f"The sampling rate of {code} must be between 0 and 1.",
                field="default_sampling_rate" if code == "default" else f"sampling_rates.{code}",
            )
    for name, what in (("touchpoint_gaps", "A gap in days"), ("priorities", "A priority")):
        mapping = values[name]
        if not isinstance(mapping, dict):
            raise ValidationFailed(f"{what} is given per touchpoint code.", field=name)
        values[name] = {
            str(code): _whole(v, field=f"{name}.{code}", what=what) for code, v in mapping.items()
        }
    exclusions = values["exclusions"]
    if not isinstance(exclusions, list):
        raise ValidationFailed("Exclusions are a list of rules.", field="exclusions")
    for index, rule in enumerate(exclusions):
        field = f"exclusions.{index}"
        if not isinstance(rule, dict) or not str(rule.get("attribute", "")).strip():
            raise ValidationFailed("Each exclusion names an attribute.", field=field)
        if rule.get("operator") not in OPERATORS:
            raise ValidationFailed(
                f"The operator must be one of {', '.join(OPERATORS)}.", field=f"{field}.operator"
            )
        if rule["operator"] in {"less_than", "greater_than"} and not isinstance(
            rule.get("value"), int | float
        ):
            raise ValidationFailed("A comparison needs a number.", field=f"{field}.value")
        if rule["operator"] == "in" and not isinstance(rule.get("value"), list):
            raise ValidationFailed("'in' needs a list of values.", field=f"{field}.value")
    channel_sending = values["channel_sending"]
    if not isinstance(channel_sending, dict) or not set(channel_sending) <= set(CHANNELS):
        raise ValidationFailed(
            f"Sending windows are given for {', '.join(CHANNELS)}.", field="channel_sending"
        )
    for channel, window in channel_sending.items():
        if not isinstance(window, dict) or not set(window) <= {"from", "until", "sunday", "holidays"}:
            raise ValidationFailed(
                "A sending window gives from, until (such as 10:00), sunday and holidays (true or false).",
                field=f"channel_sending.{channel}",
            )
        for bound in ("from", "until"):
            if bound in window:
                window[bound] = _clock(window[bound], field=f"channel_sending.{channel}.{bound}").isoformat(
                    "minutes"
                )
    values["send_from"] = _clock(values["send_from"], field="send_from")
    values["send_until"] = _clock(values["send_until"], field="send_until")
    values["windows"] = cleaned_windows
    values["quarantine_days"] = _whole(
        values["quarantine_days"], field="quarantine_days", what="The quarantine"
    )
    values["freshness_hours"] = _whole(values["freshness_hours"], field="freshness_hours", what="Freshness")
    return values


def rules_of(policy: ContactPolicy) -> Rules:
    """The engine's view of a policy version."""
    default = SendingWindow(
        policy.send_from, policy.send_until, policy.send_on_sunday, policy.send_on_holidays
    )
    per_channel = {
        channel: SendingWindow(
            time.fromisoformat(window["from"]) if "from" in window else default.opens,
            time.fromisoformat(window["until"]) if "until" in window else default.closes,
            bool(window.get("sunday", default.sunday)),
            bool(window.get("holidays", default.holidays)),
        )
        for channel, window in policy.channel_sending.items()
    }
    return Rules(
        version=policy.version,
        windows=tuple(Window(int(w["max"]), int(w["days"])) for w in policy.windows),
        quarantine_days=policy.quarantine_days,
        touchpoint_gaps=dict(policy.touchpoint_gaps),
        priorities=dict(policy.priorities),
        exclusions=tuple(Exclusion(r["attribute"], r["operator"], r.get("value")) for r in policy.exclusions),
        freshness_hours=policy.freshness_hours,
        default_sampling_rate=policy.default_sampling_rate,
        sampling_rates=dict(policy.sampling_rates),
        sending=default,
        channel_sending=per_channel,
    )


def next_sending_time(
    *, policy: ContactPolicy, at: datetime, time_zone: str, country: str, channel: str = "sms"
) -> datetime:
    """First moment at or after ``at`` when the policy lets ``channel`` reach the customer."""
    window = rules_of(policy).sending_window(channel)
    return engine_next_sending_time(window=window, at=at, time_zone=time_zone, country=country)


def customer_country(customer: Customer, *, default: str) -> str:
    return (_phone_region(customer.phone) if customer.phone else "") or default


@lru_cache(maxsize=65_536)
def _phone_region(phone: str) -> str:
    """The country of an E.164 number: its calling code when only one country uses it (+33: FR).

    Parsing costs ~40 µs a number, a tenth of deciding; only codes that several
    countries share (+1: the US, Canada and the Caribbean) need the full parse.
    """
    digits = phone.lstrip("+")
    for length in (1, 2, 3):  # calling codes are prefix-free
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:length] or 0))
        if regions:
            if len(regions) == 1:
                return regions[0] if regions[0] != "001" else ""
            break
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or ""
    except phonenumbers.NumberParseException:
        return ""


def contact_state(customer: Customer, *, refused: set[str], default_region: str) -> ContactState:
    return ContactState(
        time_zone=customer.time_zone,
        country=customer_country(customer, default=default_region),
        has_email=bool(customer.email) and getattr(customer, "email_status", "ok") != "invalid",
        has_phone=bool(customer.phone) and customer.phone_status != "invalid",
        refused=refused,
        attributes=customer.attributes or {},
    )


# --- precision-targeted sampling ---------------------------------------------------------------


@dataclass(frozen=True)
class InclusionSampler:
    """Inclusion probabilities of one organisation: its goals' per-stratum rates, else the policy's rate."""

    goals: Sequence[SamplingGoal]
    rates: dict[tuple[int, str], float]
    touchpoints: dict[int, str]
    teams: dict[int, str]
    agents: dict[int, str]

    def probability(self, rules: Rules, interaction: Interaction) -> tuple[float, dict[str, Any]]:
        touchpoint = self.touchpoints[interaction.touchpoint_id]
        best: tuple[float, dict[str, Any]] | None = None
        for goal in self.goals:
            if goal.touchpoint_id is not None and goal.touchpoint_id != interaction.touchpoint_id:
                continue
            stratum = self.stratum(goal, interaction)
            if stratum is None:
                continue
            # A stratum not yet measured is surveyed in full until the next computation.
            rate = self.rates.get((goal.id, stratum), 1.0)
            if best is None or rate > best[0]:
                best = (rate, {"goal": goal.id, "stratum": stratum, "dimension": goal.dimension})
        return best if best is not None else (rules.sampling_rate(touchpoint), {})

    def stratum(self, goal: SamplingGoal, interaction: Interaction) -> str | None:
        if goal.dimension == Dimension.TOUCHPOINT:
            return self.touchpoints[interaction.touchpoint_id]
        if goal.dimension == Dimension.TEAM:
            return self.teams.get(interaction.team_id) if interaction.team_id else None
        return self.agents.get(interaction.agent_id) if interaction.agent_id else None


def inclusion_sampler(organisation: Organisation) -> InclusionSampler:
    """Inclusion probabilities as they stand; live decisions and the simulator both read them."""
    goals = list(SamplingGoal.objects.filter(organisation=organisation, is_active=True).order_by("id"))
    rates = {
        (goal_id, stratum): probability
        for goal_id, stratum, probability in StratumRate.objects.filter(
            organisation=organisation, goal__is_active=True
        ).values_list("goal_id", "stratum", "probability")
    }
    touchpoints = dict(Touchpoint.objects.filter(organisation=organisation).values_list("id", "code"))
    dimensions = {goal.dimension for goal in goals}
    teams = agents = {}
    if Dimension.TEAM in dimensions:
        teams = dict(Team.objects.filter(organisation=organisation).values_list("id", "code"))
    if Dimension.AGENT in dimensions:
        agents = dict(Agent.objects.filter(organisation=organisation).values_list("id", "external_id"))
    return InclusionSampler(goals, rates, touchpoints, teams, agents)


def valid_margin(margin: object) -> bool:
    """A finite number of points in the range a goal may ask for (NaN and infinities are not)."""
    return isinstance(margin, int | float) and isfinite(margin) and MARGIN_MIN <= margin <= MARGIN_MAX


@transaction.atomic
def create_sampling_goal(
    *,
    organisation: Organisation,
    metric: str,
    dimension: str,
    period: str,
    margin: float,
    confidence: float = 0.95,
    touchpoint: Touchpoint | None = None,
) -> SamplingGoal:
    if metric not in Metric.values:
        raise ValidationFailed(f"The metric must be one of {', '.join(Metric.values)}.", field="metric")
    if dimension not in Dimension.values:
        raise ValidationFailed(
            f"The dimension must be one of {', '.join(Dimension.values)}.", field="dimension"
        )
    if period not in Period.values:
        raise ValidationFailed(f"The period must be one of {', '.join(Period.values)}.", field="period")
    if not valid_margin(margin):
        raise ValidationFailed(
            _("The margin is a number of points between %(low)s and %(high)s, such as 10.")
            % {"low": f"{MARGIN_MIN:g}", "high": f"{MARGIN_MAX:g}"},
            field="margin",
        )
    if not 0.5 <= confidence < 1:
        raise ValidationFailed("The confidence level is between 0.5 and 1, such as 0.95.", field="confidence")
    if touchpoint is not None and touchpoint.organisation_id != organisation.id:
        raise ValidationFailed("Unknown touchpoint.", field="touchpoint")
    goal = SamplingGoal.objects.create(
        organisation=organisation,
        metric=metric,
        dimension=dimension,
        period=period,
        margin=margin,
        confidence=confidence,
        touchpoint=touchpoint,
    )
    record(organisation=organisation, action="sampling_goal.created", target=goal, after=snapshot(goal))
    return goal


@transaction.atomic
def retire_sampling_goal(*, organisation: Organisation, goal_id: int) -> None:
    updated = SamplingGoal.objects.filter(organisation=organisation, id=goal_id).update(is_active=False)
    if not updated:
        raise NotFound("No such sampling goal.")
    record(
        organisation=organisation,
        action="sampling_goal.retired",
        object_type="samplinggoal",
        object_id=goal_id,
        before={"is_active": True},
        after={"is_active": False},
    )


@transaction.atomic
def set_stratum_rates(
    *,
    organisation: Organisation,
    goal: SamplingGoal,
    observations: Sequence[StratumObservation],
    now: datetime,
) -> list[StratumRate]:
    """Replace a goal's inclusion probabilities by those its latest observations call for."""
    if goal.organisation_id != organisation.id:
        raise NotFound("No such sampling goal.")
    rows = []
    for observed in observations:
        need = required_probability(goal=goal_terms(goal, at=now), observed=observed)
        rows.append(
            StratumRate(
                organisation=organisation,
                goal=goal,
                stratum=observed.stratum,
                probability=need.probability,
                inputs=need.as_dict(),
                computed_at=now,
            )
        )
    StratumRate.objects.filter(goal=goal).delete()
    StratumRate.objects.bulk_create(rows)
    return rows


# --- the decisions -----------------------------------------------------------------------------


def decide_contacts(
    *,
    organisation: Organisation,
    interactions: Sequence[Interaction],
    surveyable_touchpoint_ids: set[int],
    now: datetime | None = None,
    replay: bool = False,
) -> list[Decision]:
    """Decide, for each new interaction, whether to survey the customer, and record why.

    ``replay`` decides each interaction as of the moment it occurred (loading
    history, simulations); otherwise as of ``now``.
    """
    if not interactions:
        return []
    now = now or timezone.now()
    policy = current_policy(organisation=organisation)
    rules = rules_of(policy)
    sampler = inclusion_sampler(organisation)
    priorities = {tp_id: rules.priority(code) for tp_id, code in sampler.touchpoints.items()}
    customer_ids = sorted({interaction.customer_id for interaction in interactions})
    with transaction.atomic(savepoint=False):  # within the ingest's transaction: no savepoint
        # Hold every customer of the batch until commit: a concurrent decision
        # for the same customer waits here, then counts the invitations this one
        # made, so the caps hold (SQLite's IMMEDIATE transactions do the same).
        for start in range(0, len(customer_ids), 2000):
            chunk = customer_ids[start : start + 2000]
            list(Customer.objects.select_for_update().filter(id__in=chunk).order_by("id").values_list("id"))
        # The lock is what matters: the counts below are read after it. The
        # customers themselves usually came with their interactions.
        customers = {
            i.customer_id: i.customer
            for i in interactions
            if Interaction.customer.is_cached(i)  # type: ignore[attr-defined]
        }
        unread = [cid for cid in customer_ids if cid not in customers]
        for start in range(0, len(unread), 2000):
            customers |= {c.id: c for c in Customer.objects.filter(id__in=unread[start : start + 2000])}
        refused = opted_out_channels(organisation=organisation, customer_ids=customer_ids)
        moments = {i.id: (i.occurred_at if replay else now) for i in interactions}
        horizon = min(moments.values()) - timedelta(days=rules.memory_days)
        states = {
            cid: contact_state(c, refused=refused.get(cid, set()), default_region=organisation.default_region)
            for cid, c in customers.items()
        }
        for start in range(0, len(customer_ids), 2000):
            rows = Decision.objects.filter(
                organisation=organisation,
                customer_id__in=customer_ids[start : start + 2000],
                solicited_at__gt=horizon,
            ).values_list("id", "customer_id", "touchpoint_id", "solicited_at", "outcome")
            for decision_id, customer_id, touchpoint_id, solicited_at, outcome in rows:
                states[customer_id].solicitations.append(
                    Solicitation(
                        at=solicited_at,
                        touchpoint=sampler.touchpoints[touchpoint_id],
                        priority=priorities.get(touchpoint_id, 0),
                        pending=outcome == Outcome.DEFER,
                        ref=decision_id,
                    )
                )
        _hold_study_samples(organisation, customer_ids, states, since=min(moments.values()))

        by_key = {interaction.external_id: interaction for interaction in interactions}
        candidates = [
            (
                Candidate(
                    key=i.external_id,
                    touchpoint=sampler.touchpoints[i.touchpoint_id],
                    occurred_at=i.occurred_at,
                    surveyable=i.touchpoint_id in surveyable_touchpoint_ids,
                    contact_only=i.contact_only,
                    attributes=i.attributes or {},
                ),
                moments[i.id],
            )
            for i in interactions
        ]
        decisions: list[Decision] = []
        outranked: list[tuple[Any, str]] = []
        for candidate, at in ordered(candidates, rules):
            interaction = by_key[candidate.key]
            state = states[interaction.customer_id]
            probability, sampling = sampler.probability(rules, interaction)
            verdict = judge(
                rules=rules,
                state=state,
                candidate=candidate,
                at=at,
                probability=probability,
                draw=inclusion_draw(salt=organisation.slug, key=candidate.key),
                sampling=sampling,
            )
            outranked += [(displaced.ref, candidate.key) for displaced in verdict.displaces]
            remember(state, verdict, candidate, rules)
            decisions.append(
                new_row(
                    Decision,
                    # By key: the one-to-one would cache each on the other, a
                    # reference cycle per decision that only the collector frees.
                    interaction_id=interaction.id,
                    touchpoint_id=interaction.touchpoint_id,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                    context=verdict.context,
                    inclusion_probability=probability,
                    channel=verdict.channel,
                    decided_at=at,
                    planned_at=verdict.planned_at,
                    send_before=verdict.send_before,
                    solicited_at=verdict.solicited_at,
                    organisation=organisation,
                    customer=customers[interaction.customer_id],
                    policy=policy,
                )
            )
        insert_rows(decisions)
        _withdraw_outranked(organisation, outranked, decisions)
    return decisions


def _hold_study_samples(
    organisation: Organisation,
    customer_ids: Sequence[int],
    states: dict[int, ContactState],
    *,
    since: datetime,
) -> None:
    """Mark the customers drawn into a study whose fieldwork is still running after ``since``."""
    for start in range(0, len(customer_ids), 2000):
        held = Decision.objects.filter(
            organisation=organisation,
            customer_id__in=customer_ids[start : start + 2000],
            reason=STUDY_SAMPLE,
            send_before__gt=since,
        ).values_list("customer_id", "send_before")
        for customer_id, until in held:
            state = states[customer_id]
            state.held_until = max(until, state.held_until or until)


def record_study_contacts(
    *,
    organisation: Organisation,
    interactions: Sequence[Interaction],
    channels: dict[int, str],
    planned: dict[int, datetime],
    probabilities: dict[int, float],
    fieldwork_ends_at: datetime,
    now: datetime,
    context: dict[str, Any],
) -> list[Decision]:
    """Record, for customers drawn into a study's sample, the decision to invite them.

    The study's design chose them, so no rule is applied here (the frame left out
    those the rules would refuse, at the draw); each decision counts toward the
    customer's contact pressure from the moment it leaves, and holds the flow's
    surveys until the fieldwork ends (``send_before``).
    """
    if not interactions:
        return []
    policy = current_policy(organisation=organisation)
    decisions = [
        new_row(
            Decision,
            organisation_id=organisation.id,
            interaction_id=interaction.id,
            customer_id=interaction.customer_id,
            touchpoint_id=interaction.touchpoint_id,
            outcome=Outcome.INVITE if planned[interaction.id] <= now else Outcome.DEFER,
            reason=STUDY_SAMPLE,
            context={**context, "rate": probabilities[interaction.id]},
            policy_id=policy.id,
            inclusion_probability=probabilities[interaction.id],
            channel=channels[interaction.id],
            decided_at=now,
            planned_at=planned[interaction.id],
            send_before=fieldwork_ends_at,
            solicited_at=planned[interaction.id],
        )
        for interaction in interactions
    ]
    insert_rows(decisions)
    return decisions


def release_study_hold(*, organisation: Organisation, decision_ids: Sequence[int], at: datetime) -> int:
    """End the hold of a study's decisions early (its fieldwork closed before the planned end)."""
    return Decision.objects.filter(
        organisation=organisation, id__in=list(decision_ids), reason=STUDY_SAMPLE, send_before__gt=at
    ).update(send_before=at)


def _withdraw_outranked(
    organisation: Organisation, outranked: Sequence[tuple[Any, str]], decisions: Sequence[Decision]
) -> None:
    """Turn surveys still waiting to leave into skips, for the higher-priority survey that took their place.

    A reference is a stored decision's id, or the key of a decision made in this
    same batch.
    """
    if not outranked:
        return
    made = {d.interaction_id: d for d in decisions}
    keys = dict(
        Interaction.objects.filter(organisation=organisation, id__in=list(made)).values_list(
            "external_id", "id"
        )
    )
    withdrawn: list[int] = []
    for ref, by in outranked:
        decision_id = made[keys[ref]].id if isinstance(ref, str) else ref
        Decision.objects.filter(organisation=organisation, id=decision_id, outcome=Outcome.DEFER).update(
            outcome=Outcome.SKIP,
            reason="outranked",
            context={"by": by},
            planned_at=None,
            solicited_at=None,
        )
        withdrawn.append(decision_id)
    decisions_withdrawn.send(sender=Decision, organisation=organisation, decision_ids=withdrawn)


def record_past_contacts(
    *, organisation: Organisation, interactions: Sequence[ImportedInteraction | Interaction]
) -> int:
    """Record imported past interactions in their customers' contact history, as contacts made then.

    No rule is applied and nothing is sent: each is written as the engine
    writes a contact-only interaction (skipped, counted toward contact
    pressure from the moment it occurred), under the current policy version.
    Written from tuples: an import's million contacts make no model instances.
    """
    if not interactions:
        return 0
    policy_id = current_policy(organisation=organisation).id
    organisation_id = organisation.id
    contexts = {
        touchpoint_id: {"touchpoint": code, "imported": True}
        for touchpoint_id, code in Touchpoint.objects.filter(organisation=organisation).values_list(
            "id", "code"
        )
    }
    rows = [
        (
            organisation_id,
            interaction.id,
            interaction.customer_id,
            interaction.touchpoint_id,
            Outcome.SKIP.value,
            "contact_only",
            contexts[interaction.touchpoint_id],
            policy_id,
            0.0,
            "",
            interaction.occurred_at,
            interaction.occurred_at,
        )
        for interaction in interactions
    ]
    insert_values(Decision, PAST_CONTACT_COLUMNS, rows)
    return len(rows)


PAST_CONTACT_COLUMNS = (
    "organisation_id",
    "interaction_id",
    "customer_id",
    "touchpoint_id",
    "outcome",
    "reason",
    "context",
    "policy_id",
    "inclusion_probability",
    "channel",
    "decided_at",
    "solicited_at",
)
