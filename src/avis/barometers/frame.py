"""The sampling frame of a wave, in SQL: who is in scope, their stratum, and why governance leaves
some out (opted out, excluded by a rule, no usable channel, already in a study's fieldwork, a
window's cap, the quarantine).

Everything is computed by the database in one pass over the organisation's customers into a
temporary table (5,000,000 customers take seconds, not a Python loop over them); then one
grouped count gives the frame and its exclusions per stratum, and one ordered read gives the
eligible ids, stratum after stratum, for the draw. Rules on attributes use governance's format
and mean the same as ``governance.engine.Exclusion.matches`` (strings compared without case or
surrounding spaces, numbers as numbers).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    FloatField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Expression
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower, NullIf, Substr, Trim

from avis.barometers.models import Barometer, Mode
from avis.customers.models import Channel, Customer, EmailStatus, OptOut, PhoneStatus
from avis.governance.engine import STUDY_SAMPLE, Exclusion
from avis.governance.models import ContactPolicy, Decision

TRUTHY = ["1", "true", "yes", "oui", "y", "o", "vrai"]
NUMBER = r"^ *-?[0-9]+(\.[0-9]+)? *$"
# Frame exclusions, in the order they are checked: a customer is counted under the first that applies.
REASONS = ("no_stratum", "opted_out", "excluded", "no_channel", "in_study", "cap_reached", "quarantine")
SEPARATOR = " × "


@dataclass
class FrameStratum:
    values: dict[str, str]
    in_scope: int = 0
    eligible: int = 0
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return SEPARATOR.join(self.values.values())


@dataclass
class Frame:
    """A wave's frame: its strata (in a fixed order), the eligible ids of each, the exclusions."""

    strata: list[FrameStratum]
    ids: list[np.ndarray]
    exclusions: dict[str, int]

    @property
    def in_scope(self) -> int:
        return sum(s.in_scope for s in self.strata) + self.exclusions.get("no_stratum", 0)

    @property
    def eligible(self) -> int:
        return sum(s.eligible for s in self.strata)


def _text(attribute: str) -> Expression:
    return Trim(KT(f"attributes__{attribute}"))


def _number(text: Expression) -> Expression:
    # The CASE keeps the database from casting a word: only number-looking text is cast.
    return Case(When(Q(Exact_regex(text, NUMBER)), then=Cast(text, FloatField())), default=None)


class Exact_regex(Expression):  # noqa: N801  (reads as the lookup it stands for)
    """``text ~ pattern`` as a boolean expression, on any backend Django supports."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, text: Expression, pattern: str) -> None:
        super().__init__()
        self.text, self.pattern = text, pattern

    def get_source_expressions(self) -> list[Expression]:
        return [self.text]

    def set_source_expressions(self, exprs: Sequence[Expression]) -> None:
        (self.text,) = exprs

    def as_sql(self, compiler: Any, conn: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.text)
        if conn.vendor == "postgresql":
            return f"({sql} ~ %s)", [*params, self.pattern]
        return f"({sql} REGEXP %s)", [*params, self.pattern]


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rule_condition(rule: Exclusion) -> Q:
    """The customers a rule matches, as a condition the database evaluates."""
    text = _text(rule.attribute)
    folded = Lower(text)
    present = Q(Exact_regex(text, r"."))
    if rule.operator == "is_set":
        return present
    if rule.operator == "is_true":
        return Q(_In(folded, TRUTHY))
    values = rule.value if rule.operator == "in" else [rule.value]
    if rule.operator in {"equals", "not_equals", "in"}:
        matches = Q(pk__in=[])
        for value in values or []:
            number = _as_number(value)
            if number is not None:
                matches |= Q(_Compare(_number(text), "=", number))
            else:
                matches |= Q(_Compare(folded, "=", str(value).strip().casefold()))
        return (present & ~matches) if rule.operator == "not_equals" else matches
    sign = "<" if rule.operator == "less_than" else ">"
    return Q(_Compare(_number(text), sign, float(rule.value)))


class _Compare(Expression):
    output_field = BooleanField()
    conditional = True

    def __init__(self, left: Expression, sign: str, value: Any) -> None:
        super().__init__()
        self.left, self.sign, self.value = left, sign, value

    def get_source_expressions(self) -> list[Expression]:
        return [self.left]

    def set_source_expressions(self, exprs: Sequence[Expression]) -> None:
        (self.left,) = exprs

    def as_sql(self, compiler: Any, conn: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.left)
        return f"COALESCE({sql} {self.sign} %s, FALSE)", [*params, self.value]


class _In(Expression):
    output_field = BooleanField()
    conditional = True

    def __init__(self, left: Expression, values: Sequence[str]) -> None:
        super().__init__()
        self.left, self.values = left, list(values)

    def get_source_expressions(self) -> list[Expression]:
        return [self.left]

    def set_source_expressions(self, exprs: Sequence[Expression]) -> None:
        (self.left,) = exprs

    def as_sql(self, compiler: Any, conn: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.left)
        marks = ", ".join(["%s"] * len(self.values))
        return f"COALESCE({sql} IN ({marks}), FALSE)", [*params, *self.values]


def band_labels(bands: Sequence[float]) -> list[str]:
    """``[2, 5]`` → ``["<2", "2–5", "≥5"]``."""
    edges = [f"{b:g}" for b in bands]
    return [f"<{edges[0]}", *[f"{a}–{b}" for a, b in zip(edges, edges[1:], strict=False)], f"≥{edges[-1]}"]


def _years_before(day: date, years: float) -> date:
    whole = int(years)
    try:
        moved = day.replace(year=day.year - whole)
    except ValueError:  # 29 February
        moved = day.replace(year=day.year - whole, day=28)
    return moved - timedelta(days=round((years - whole) * 365.25))


def stratum_part(spec: Mapping[str, Any], *, on: date) -> Expression:
    """One stratum attribute's value for each customer (NULL when it has none)."""
    attribute = str(spec["attribute"])
    bands = [float(b) for b in spec.get("bands") or []]
    text = _text(attribute)
    if not bands:
        # One extraction per customer: the database does not share a sub-expression between uses.
        return NullIf(text, Value(""), output_field=CharField())
    labels = band_labels(bands)
    if spec.get("years_since"):
        # An ISO date: less than b years ago means after the day b years before the frame date.
        day = Substr(KT(f"attributes__{attribute}"), 1, 10)
        whens = [
            When(Q(_Compare(day, ">", _years_before(on, b).isoformat())), then=Value(label))
            for b, label in zip(bands, labels, strict=False)
        ]
        return Case(
            When(~Q(Exact_regex(day, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")), then=Value(None)),
            *whens,
            default=Value(labels[-1]),
            output_field=CharField(),
        )
    number = _number(text)
    whens = [
        When(Q(_Compare(number, "<", b)), then=Value(label)) for b, label in zip(bands, labels, strict=False)
    ]
    return Case(
        When(Q(_Compare(number, ">=", bands[-1])), then=Value(labels[-1])),
        *whens,
        default=None,
        output_field=CharField(),
    )


def _channel_usable(mode: str) -> Q:
    email = ~Q(email="") & ~Q(email_status__in=[EmailStatus.INVALID, EmailStatus.COMPLAINED])
    phone = ~Q(phone="") & ~Q(phone_status=PhoneStatus.INVALID)
    if mode == Mode.EMAIL:
        return email
    if mode == Mode.SMS:
        return phone
    return email | phone


def _refusing(organisation_id: int, mode: str) -> Q:
    """Customers whose opt-outs cover every channel the barometer would use."""
    active = OptOut.objects.filter(organisation_id=organisation_id, withdrawn_at__isnull=True)
    everything = Q(id__in=active.filter(channel=Channel.ALL).values("customer_id"))
    channels = [Channel.EMAIL, Channel.SMS] if mode == Mode.BOTH else [mode]
    each = Q()
    for channel in channels:
        each &= Q(id__in=active.filter(channel=channel).values("customer_id"))
    return everything | each


def frame_queryset(
    *, barometer: Barometer, policy: ContactPolicy, on: date, at: datetime
) -> QuerySet[Customer]:
    """Every customer in scope, with its stratum parts ``s0…`` and its exclusion ``reason`` (NULL:
    eligible). ``at`` is the moment of the draw, for the contact history."""
    organisation_id = barometer.organisation_id
    scope = Q(organisation_id=organisation_id)
    for rule in barometer.scope:
        scope &= rule_condition(Exclusion(rule["attribute"], rule["operator"], rule.get("value")))
    parts = {f"s{i}": stratum_part(spec, on=on) for i, spec in enumerate(barometer.strata)}
    # The ledger as it stood at the draw: a wave drawn as of a past date (history loaded, the demo)
    # does not see the contacts decided after it.
    decisions = Decision.objects.filter(organisation_id=organisation_id, decided_at__lte=at)
    # A customer with a stratum part missing is "no_stratum" (said by build_frame, which reads the
    # parts once more rather than have the database extract them twice).
    reasons: list[When] = []
    reasons.append(When(_refusing(organisation_id, barometer.mode), then=Value("opted_out")))
    excluded = Q(pk__in=[])
    for rule in policy.exclusions:
        excluded |= rule_condition(Exclusion(rule["attribute"], rule["operator"], rule.get("value")))
    if policy.exclusions:
        reasons.append(When(excluded, then=Value("excluded")))
    reasons.append(When(~_channel_usable(barometer.mode), then=Value("no_channel")))
    in_study = decisions.filter(reason=STUDY_SAMPLE, send_before__gt=at).values("customer_id")
    reasons.append(When(Q(id__in=in_study), then=Value("in_study")))
    for window in policy.windows:
        crowded = (
            decisions.filter(solicited_at__gt=at - timedelta(days=int(window["days"])))
            .values("customer_id")
            .annotate(n=Count("id"))
            .filter(n__gte=int(window["max"]))
            .values("customer_id")
        )
        reasons.append(When(Q(id__in=crowded), then=Value("cap_reached")))
    if policy.quarantine_days:
        recent = decisions.filter(solicited_at__gt=at - timedelta(days=policy.quarantine_days)).values(
            "customer_id"
        )
        reasons.append(When(Q(id__in=recent), then=Value("quarantine")))
    return (
        Customer.objects.filter(scope)
        .annotate(**parts, reason=Case(*reasons, default=None, output_field=CharField()))
        .values_list("id", *parts, "reason")
        .order_by()
    )


def _id_lists(cursor: Any, table: str, parts: list[str], missing: str) -> dict[tuple[str, ...], np.ndarray]:
    """The eligible ids of each stratum, as one comma-joined text per stratum built by the database
    (a hash aggregate, no sort of the whole frame) and parsed by numpy: millions of ids without a
    Python object per row."""
    joined = "string_agg(id::text, ',')" if connection.vendor == "postgresql" else "group_concat(id, ',')"
    group = ", ".join(parts)
    select = f"{group}, " if parts else ""
    cursor.execute(
        f"SELECT {select}{joined} FROM {table} WHERE reason IS NULL AND NOT ({missing})"  # noqa: S608
        + (f" GROUP BY {group}" if parts else "")
    )
    found = {}
    for row in cursor.fetchall():
        text = row[-1] or ""
        found[tuple(row[:-1])] = np.array(text.split(","), dtype=np.int64) if text else np.empty(0, np.int64)
    return found


def build_frame(*, barometer: Barometer, policy: ContactPolicy, on: date, at: datetime) -> Frame:
    """The frame of a wave: counted per stratum and reason, eligible ids in stratum order, by id."""
    query = frame_queryset(barometer=barometer, policy=policy, on=on, at=at)
    sql, params = query.query.sql_with_params()
    width = len(barometer.strata)
    parts = [f"s{i}" for i in range(width)]
    table = f"barometer_frame_{secrets.token_hex(6)}"
    order = ", ".join(parts) if parts else "1"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # The ledger's sets (opted out, recently surveyed…) are matched by hashed subplans, which
            # PostgreSQL only builds when they fit in work_mem: with a quarter of a million recent
            # contacts the default 4 MB falls back to a scan of the set per customer (minutes, not
            # seconds). For this transaction only.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {sql}", params)  # noqa: S608
        try:
            missing = " OR ".join(f"{p} IS NULL" for p in parts) or "FALSE"
            reason = f"CASE WHEN {missing} THEN 'no_stratum' ELSE reason END"
            group = ", ".join(parts)
            cursor.execute(
                f"SELECT {group + ', ' if parts else ''}{reason}, COUNT(*) FROM {table} "  # noqa: S608
                f"GROUP BY {group + ', ' if parts else ''}{reason} ORDER BY {order}"
            )
            counted = cursor.fetchall()
            eligible = _id_lists(cursor, table, parts, missing)
        finally:
            cursor.execute(f"DROP TABLE {table}")
    strata: dict[tuple[str, ...], FrameStratum] = {}
    exclusions: dict[str, int] = {}
    attributes = barometer.stratum_attributes
    for row in counted:
        values, reason, count = tuple(row[:width]), row[width], int(row[width + 1])
        if reason is not None:
            exclusions[reason] = exclusions.get(reason, 0) + count
        if reason == "no_stratum":
            continue
        stratum = strata.setdefault(values, FrameStratum(dict(zip(attributes, values, strict=True))))
        stratum.in_scope += count
        if reason is None:
            stratum.eligible += count
        else:
            stratum.excluded[reason] = stratum.excluded.get(reason, 0) + count
    ordered = list(strata.values())
    empty = np.empty(0, dtype=np.int64)
    # In id order within each stratum: the draw is reproducible whatever order the database used.
    ids = [np.sort(eligible.get(values, empty)) for values in strata]
    return Frame(ordered, ids, dict(sorted(exclusions.items(), key=lambda item: REASONS.index(item[0]))))
