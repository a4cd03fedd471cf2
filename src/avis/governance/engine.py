"""The contact rules themselves, with no database: a policy, a customer's contact state, a candidate.

Live decisions (``services.decide_contacts``) and the simulator
(``simulation.py``) both ask ``judge``, so a policy tried on last year's
interactions behaves exactly as it will once switched on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from avis.errors import ValidationFailed

CHANNELS = ("email", "sms")
ALL_CHANNELS = "all"
# The reason of a decision that invites a customer drawn into a study's sample (a barometer wave),
# and of a flow survey skipped because that customer is in the study's fieldwork.
STUDY_SAMPLE = "barometer_sample"
STUDY_FIELDWORK = "barometer_fieldwork"

# What a rule on an attribute may say; kept small so that anyone can read a rule aloud.
OPERATORS = ("equals", "not_equals", "in", "is_true", "is_set", "less_than", "greater_than")


@dataclass(frozen=True)
class Window:
    """At most ``max`` solicitations in any ``days`` rolling days."""

    max: int
    days: int


@dataclass(frozen=True)
class Exclusion:
    """Never survey a customer whose attribute matches: ``employee is_true``, ``age less_than 18``."""

    attribute: str
    operator: str
    value: Any = None

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        present = self.attribute in attributes and attributes[self.attribute] not in (None, "")
        found = attributes.get(self.attribute)
        if self.operator == "is_set":
            return present
        if self.operator == "is_true":
            return _truthy(found)
        if not present:
            return False
        if self.operator == "equals":
            return _same(found, self.value)
        if self.operator == "not_equals":
            return not _same(found, self.value)
        if self.operator == "in":
            return any(_same(found, v) for v in self.value or [])
        number = _number(found)
        if number is None:
            return False
        if self.operator == "less_than":
            return number < float(self.value)
        return number > float(self.value)  # greater_than

    def describe(self) -> str:
        value = "" if self.operator in {"is_true", "is_set"} else f" {self.value}"
        return f"{self.attribute} {self.operator}{value}"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "oui", "y", "o", "vrai"}
    return bool(value)


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(found, str) and isinstance(wanted, str):
        return found.strip().casefold() == wanted.strip().casefold()
    if _number(found) is not None and _number(wanted) is not None:
        return _number(found) == _number(wanted)
    return bool(found == wanted)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class SendingWindow:
    """Hours a channel may reach a customer, in the customer's own time zone."""

    opens: time = time(10, 0)
    closes: time = time(20, 0)
    sunday: bool = False
    holidays: bool = False

    @property
    def all_day(self) -> bool:
        return self.opens == self.closes


@dataclass(frozen=True)
class Rules:
    """A snapshot of one policy version, in plain values."""

    version: int
    windows: tuple[Window, ...] = (Window(2, 90),)
    quarantine_days: int = 14
    touchpoint_gaps: Mapping[str, int] = field(default_factory=dict)
    priorities: Mapping[str, int] = field(default_factory=dict)
    exclusions: tuple[Exclusion, ...] = ()
    freshness_hours: int = 48
    default_sampling_rate: float = 1.0
    sampling_rates: Mapping[str, float] = field(default_factory=dict)
    sending: SendingWindow = SendingWindow()
    channel_sending: Mapping[str, SendingWindow] = field(default_factory=dict)

    def sampling_rate(self, touchpoint: str) -> float:
        return float(self.sampling_rates.get(touchpoint, self.default_sampling_rate))

    def priority(self, touchpoint: str) -> int:
        return int(self.priorities.get(touchpoint, 0))

    def sending_window(self, channel: str) -> SendingWindow:
        return self.channel_sending.get(channel, self.sending)

    @property
    def memory_days(self) -> int:
        """How far back a decision must look into a customer's history."""
        return max([w.days for w in self.windows] + [self.quarantine_days, *self.touchpoint_gaps.values(), 1])


@dataclass
class Solicitation:
    """One earlier survey (or other contact) that counts toward the customer's pressure."""

    at: datetime
    touchpoint: str
    priority: int = 0
    # Still waiting for its sending time: a higher-priority survey may take its place.
    pending: bool = False
    ref: Any = None


@dataclass
class ContactState:
    """What the rules need to know about one customer."""

    time_zone: str = "Europe/Paris"
    country: str = "FR"
    has_email: bool = False
    has_phone: bool = False
    refused: set[str] = field(default_factory=set)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    solicitations: list[Solicitation] = field(default_factory=list)
    # Drawn into a study (a barometer wave) whose fieldwork runs until then: the flow's surveys
    # wait, so that the study's answers are not coloured by an extra survey (see docs/barometers.md).
    held_until: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    """One interaction governance must decide about."""

    key: str  # the sender's external id: the sampling draw is fixed by it
    touchpoint: str
    occurred_at: datetime
    surveyable: bool = True
    contact_only: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    outcome: str  # invite | skip | defer
    reason: str
    context: dict[str, Any]
    channel: str = ""
    planned_at: datetime | None = None
    send_before: datetime | None = None
    # The moment this decision counts toward the customer's pressure (None: it does not).
    solicited_at: datetime | None = None
    displaces: list[Solicitation] = field(default_factory=list)


def inclusion_draw(*, salt: str, key: str) -> float:
    """A uniform number in [0, 1) fixed by the interaction, so a replay draws the same.

    ``salt`` is the organisation's slug: two organisations draw independently, and the same
    history draws the same in every installation (the demo's figures do not depend on how many
    organisations were created before it; its database key would)."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@cache
def _holiday_calendar(country: str, year: int) -> holidays.HolidayBase | dict[date, str]:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:  # a country the package does not know: no public holidays
        return {}


def is_public_holiday(day: date, country: str) -> bool:
    return day in _holiday_calendar(country, day.year)


def next_sending_time(*, window: SendingWindow, at: datetime, time_zone: str, country: str) -> datetime:
    """First moment at or after ``at`` inside the sending window, in the customer's own time zone."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    for _ in range(30):  # a month without a single sending day is a misconfiguration
        day = local.date()
        closed = (day.weekday() == 6 and not window.sunday) or (
            not window.holidays and is_public_holiday(day, country)
        )
        if not closed and window.all_day:
            return local.astimezone(at.tzinfo)
        opens = datetime.combine(day, window.opens, tzinfo=zone)
        closes = datetime.combine(day, window.closes, tzinfo=zone)
        if not closed and local < closes:
            return max(local, opens).astimezone(at.tzinfo)
        local = datetime.combine(day + timedelta(days=1), window.opens, tzinfo=zone)
    raise ValidationFailed("The contact policy leaves no sending window in the next 30 days.")


def choose_channel(state: ContactState) -> str:
    if state.has_email and "email" not in state.refused:
        return "email"
    if state.has_phone and "sms" not in state.refused:
        return "sms"
    return ""


def _pressure_verdict(
    rules: Rules, solicitations: Sequence[Solicitation], candidate: Candidate, at: datetime
) -> Verdict | None:
    """Why earlier solicitations forbid this one, or None if they leave room."""
    # Solicitations after ``at`` count too: a survey deferred to tomorrow is pressure already.
    earlier = sorted(solicitations, key=lambda s: s.at)
    for window in rules.windows:
        start = at - timedelta(days=window.days)
        recent = [s for s in earlier if s.at > start]
        if len(recent) >= window.max:
            return Verdict(
                "skip",
                "cap_reached",
                {
                    "count": len(recent),
                    "max": window.max,
                    "days": window.days,
                    "last": recent[-1].at.isoformat(),
                    "last_touchpoint": recent[-1].touchpoint,
                },
            )
    if rules.quarantine_days and earlier and earlier[-1].at > at - timedelta(days=rules.quarantine_days):
        return Verdict(
            "skip",
            "quarantine",
            {
                "last": earlier[-1].at.isoformat(),
                "last_touchpoint": earlier[-1].touchpoint,
                "days": rules.quarantine_days,
            },
        )
    gap = rules.touchpoint_gaps.get(candidate.touchpoint, 0)
    same = [s.at for s in earlier if s.touchpoint == candidate.touchpoint]
    if gap and same and same[-1] > at - timedelta(days=gap):
        return Verdict(
            "skip",
            "touchpoint_gap",
            {"last": same[-1].isoformat(), "days": gap, "touchpoint": candidate.touchpoint},
        )
    return None


def judge(
    *,
    rules: Rules,
    state: ContactState,
    candidate: Candidate,
    at: datetime,
    probability: float,
    draw: float,
    sampling: Mapping[str, Any] | None = None,
) -> Verdict:
    """The decision for one candidate at ``at``; ``draw`` is the candidate's fixed uniform number.

    Checks run from the customer's own wishes to the company's: a contact that
    is not a survey, opt-out, exclusions, the survey and channel, pressure
    (windows, quarantine, per-touchpoint gap, where a higher priority may take
    the place of a survey still waiting to leave), sampling, then the sending
    window and freshness.
    """
    touchpoint = candidate.touchpoint
    if candidate.contact_only:
        return Verdict("skip", "contact_only", {"touchpoint": touchpoint}, solicited_at=at)
    if ALL_CHANNELS in state.refused or state.refused.issuperset(CHANNELS):
        return Verdict("skip", "opted_out", {})
    if state.held_until is not None and at < state.held_until:
        return Verdict("skip", STUDY_FIELDWORK, {"until": state.held_until.isoformat()})
    merged = {**state.attributes, **candidate.attributes}
    for rule in rules.exclusions:
        if rule.matches(merged):
            return Verdict(
                "skip",
                "excluded",
                {"attribute": rule.attribute, "operator": rule.operator, "value": rule.value},
            )
    if not candidate.surveyable:
        return Verdict("skip", "no_survey", {"touchpoint": touchpoint})
    channel = choose_channel(state)
    if not channel:
        return Verdict("skip", "no_channel", {})

    displaces: list[Solicitation] = []
    blocked = _pressure_verdict(rules, state.solicitations, candidate, at)
    if blocked is not None:
        priority = rules.priority(touchpoint)
        outranked = [s for s in state.solicitations if s.pending and s.at > at and s.priority < priority]
        others = [s for s in state.solicitations if not any(s is o for o in outranked)]
        if not outranked or _pressure_verdict(rules, others, candidate, at) is not None:
            return blocked
        displaces = outranked

    if draw >= probability:
        return Verdict(
            "skip", "not_sampled", {"rate": probability, "touchpoint": touchpoint, **(sampling or {})}
        )
    planned = next_sending_time(
        window=rules.sending_window(channel), at=at, time_zone=state.time_zone, country=state.country
    )
    send_before = None  # no freshness limit: the survey leaves whenever its window opens
    if rules.freshness_hours:
        send_before = candidate.occurred_at + timedelta(hours=rules.freshness_hours)
    if send_before is not None and planned > send_before:
        return Verdict(
            "skip",
            "stale",
            {"hours": rules.freshness_hours, "earliest": planned.isoformat(), "time_zone": state.time_zone},
        )
    windows = [{"max": w.max, "days": w.days} for w in rules.windows]
    counts = [
        sum(1 for s in state.solicitations if s.at > at - timedelta(days=w.days)) for w in rules.windows
    ]
    context: dict[str, Any] = {"counts": counts, "windows": windows, "rate": probability, **(sampling or {})}
    if displaces:
        context["outranked"] = [s.touchpoint for s in displaces]
    verdict = Verdict(
        "invite",
        "eligible",
        context,
        channel,
        planned,
        send_before,
        solicited_at=planned,
        displaces=displaces,
    )
    if planned > at:
        verdict.outcome, verdict.reason = "defer", "quiet_hours"
        context |= {"time_zone": state.time_zone, "planned_at": planned.isoformat()}
    return verdict


def ordered(
    candidates: Iterable[tuple[Candidate, datetime]], rules: Rules
) -> list[tuple[Candidate, datetime]]:
    """By moment; among candidates decided at the same moment, the highest priority first."""
    return sorted(candidates, key=lambda pair: (pair[1], -rules.priority(pair[0].touchpoint), pair[0].key))


def remember(state: ContactState, verdict: Verdict, candidate: Candidate, rules: Rules) -> None:
    """Carry a verdict into the customer's state, so the next candidate sees it."""
    for displaced in verdict.displaces:
        state.solicitations = [s for s in state.solicitations if s is not displaced]
    if verdict.solicited_at is not None:
        state.solicitations.append(
            Solicitation(
                at=verdict.solicited_at,
                touchpoint=candidate.touchpoint,
                priority=rules.priority(candidate.touchpoint),
                pending=verdict.outcome == "defer",
                ref=candidate.key,
            )
        )
