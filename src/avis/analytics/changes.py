"""Is this period different from the last? A test per group, Benjamini–Hochberg across the groups.

A change is called significant only when its difference survives the false
discovery rate control across every group compared at once (touchpoints,
teams or agents): with 40 agents, two would otherwise "change" by chance
every month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.utils import timezone

from avis.accounts.models import Organisation
from avis.analytics.comparison import (
    Difference,
    difference_of_mean_summaries,
    difference_of_nps,
    difference_of_proportions,
    judge_family,
)
from avis.analytics.queries import (
    MEASURES_OF,
    Dimension,
    Filters,
    Metric,
    Period,
    analytics_settings,
    estimate_of,
    labels_of,
    statistics,
)
from avis.analytics.stats import Estimate
from avis.errors import ValidationFailed
from avis.words import dimension_value

MEANS = {"csat_mean": ("csat", "agent"), "agent_mean": ("agent",), "ces": ("ces",)}


@dataclass(frozen=True)
class Change:
    label: str
    current: Estimate  # the compared period (the last complete one by default)
    previous: Estimate
    difference: Difference  # interval at ``Changes.level``
    adjusted_p: float | None  # None when not tested (a side below the minimum n)
    significant: bool
    reliable: bool  # both periods at or above the organisation's minimum n: only then a verdict
    so_far: Estimate | None = None  # the period under way, shown as such, never judged

    @property
    def direction(self) -> str | None:
        """ "up" or "down" for a significant change only: no arrow, no colour without a verdict."""
        if not self.significant or self.difference.value is None:
            return None
        return "up" if self.difference.value > 0 else "down"


@dataclass(frozen=True)
class Changes:
    metric: str
    period: str
    current_start: date | None
    previous_start: date | None
    q: float
    changes: list[Change]
    level: float = 0.95  # confidence of the intervals of the differences (adjusted for the family)
    tested: int = 0  # rows with a verdict (both sides at or above the minimum n)
    so_far_start: date | None = None  # the period under way, when the compared one is complete
    min_n: int = 0

    @property
    def level_percent(self) -> float:
        return round(100 * self.level, 2)


def period_start(period: Period, day: date) -> date:
    """First day of the day, week (Monday first), calendar month or quarter that holds ``day``."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    months = 3 if period == "quarter" else 1
    return day.replace(month=(day.month - 1) // months * months + 1, day=1)


def previous_start(period: Period, start: date) -> date:
    if period == "day":
        return start - timedelta(days=1)
    if period == "week":
        return start - timedelta(days=7)
    months = 3 if period == "quarter" else 1
    month = start.month - months
    return date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def last_complete_start(period: Period, *, organisation: Organisation, now: datetime | None = None) -> date:
    """The last whole period before the one under way, in the organisation's time zone."""
    today = (now or timezone.now()).astimezone(ZoneInfo(organisation.default_time_zone)).date()
    return previous_start(period, period_start(period, today))


def _difference(metric: Metric, a: Mapping[str, int], b: Mapping[str, int], confidence: float) -> Difference:
    """The difference of one metric between two roll-up rows, by the method that fits the metric."""
    if metric == "nps":
        counts = ("nps_promoters", "nps_passives", "nps_detractors")
        return difference_of_nps(
            tuple(a[c] for c in counts),  # type: ignore[arg-type]
            tuple(b[c] for c in counts),  # type: ignore[arg-type]
            confidence=confidence,
        )
    if metric in MEANS:

        def summary(s: Mapping[str, int]) -> tuple[float, float, int]:
            parts = MEANS[metric]
            n = sum(s[f"{p}_n"] for p in parts)
            total = sum(s[f"{p}_sum"] for p in parts)
            squares = sum(s[f"{p}_sumsq"] for p in parts)
            if n == 0:
                return 0.0, 0.0, 0
            return total / n, max(0.0, (squares - total * total / n) / (n - 1)) if n > 1 else 0.0, n

        return difference_of_mean_summaries(summary(a), summary(b), confidence=confidence)
    ea, eb = estimate_of(metric, a), estimate_of(metric, b)
    return difference_of_proportions(
        round((ea.value or 0) * ea.n), ea.n, round((eb.value or 0) * eb.n), eb.n, confidence=confidence
    )


def period_changes(
    *,
    organisation: Organisation,
    metric: Metric,
    period: Period = "month",
    group_by: Sequence[Dimension] = ("touchpoint",),
    filters: Filters | None = None,
    current: date | None = None,
    now: datetime | None = None,
    q: float = 0.05,
    confidence: float = 0.95,
) -> Changes:
    """Each group's figure in a period against the previous one: difference, interval, p, BH-adjusted p.

    ``current`` is the first day of the period to compare; by default the last *complete* period
    (before ``now``, or before the end of ``filters.until``), never the one under way, whose few
    days of answers would be judged against a whole period. That period under way is returned
    beside (``so_far``), to be shown as such. Rows with a side below the organisation's minimum n
    get no test and no verdict; the others are judged together (``judge_family``), so a change is
    significant exactly when its interval, at the family's level, excludes 0. ``confidence`` is
    that of each period's own estimate.
    """
    if period == "all":
        raise ValidationFailed(
            "a change compares two periods: choose day, week, month or quarter", field="period"
        )
    min_n = analytics_settings(organisation=organisation).min_n
    so_far_start = None
    if current is None:
        reference = now or timezone.now()
        if filters is not None and filters.until is not None and filters.until < reference:
            reference = filters.until  # a window ending in the past: its end is "now"
        start = last_complete_start(period, organisation=organisation, now=reference)
        so_far_start = next_start(period, start)
    else:
        start = current
    before = previous_start(period, start)
    rows = statistics(
        organisation=organisation,
        period=period,
        group_by=group_by,
        filters=filters,
        invitations=metric == "response_rate",
        measures=MEASURES_OF.get(metric),
    )
    by_period: dict[date, dict[tuple, dict]] = {start: {}, before: {}}
    if so_far_start is not None:
        by_period[so_far_start] = {}
    for row in rows:
        if row["bucket"] in by_period:
            by_period[row["bucket"]][tuple(row[d] for d in group_by)] = row
    labels = labels_of(organisation=organisation)
    pairs = []
    for key in sorted(set(by_period[start]) & set(by_period[before]), key=str):
        a, b = by_period[start][key], by_period[before][key]
        ea, eb = estimate_of(metric, a, confidence=confidence), estimate_of(metric, b, confidence=confidence)
        if ea.n == 0 or eb.n == 0:
            continue
        label = " · ".join(
            dimension_value(d, labels.of(d, k), organisation) or "—"
            for d, k in zip(group_by, key, strict=True)
        )
        running = by_period.get(so_far_start, {}).get(key) if so_far_start else None
        so_far = estimate_of(metric, running, confidence=confidence) if running else None
        pairs.append((label, ea, eb, a, b, so_far))
    family = judge_family(
        [partial(_difference, metric, a, b) for _label, _ea, _eb, a, b, _so_far in pairs],
        [ea.n >= min_n and eb.n >= min_n for _label, ea, eb, _a, _b, _so_far in pairs],
        q=q,
    )
    changes = [
        Change(
            label,
            ea,
            eb,
            judged.difference,
            judged.adjusted_p,
            judged.significant,
            ea.n >= min_n and eb.n >= min_n,
            so_far if so_far is not None and so_far.n else None,
        )
        for (label, ea, eb, _a, _b, so_far), judged in zip(pairs, family.rows, strict=True)
    ]
    return Changes(
        metric, period, start, before, q, changes, family.level, family.tested, so_far_start, min_n
    )


def next_start(period: Period, start: date) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    months = 3 if period == "quarter" else 1
    month = start.month + months
    return date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
