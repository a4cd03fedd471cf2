"""Is this period different from the last? A test per group, Benjamini–Hochberg across the groups.

A change is called significant only when its difference survives the false
discovery rate control across every group compared at once (touchpoints,
teams or agents): with 40 agents, two would otherwise "change" by chance
every month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from avis.accounts.models import Organisation
from avis.analytics.comparison import (
    Difference,
    benjamini_hochberg,
    difference_of_mean_summaries,
    difference_of_nps,
    difference_of_proportions,
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

MEANS = {"csat_mean": ("csat", "agent"), "agent_mean": ("agent",), "ces": ("ces",)}


@dataclass(frozen=True)
class Change:
    label: str
    current: Estimate
    previous: Estimate
    difference: Difference
    adjusted_p: float | None
    significant: bool
    reliable: bool  # both periods at or above the organisation's minimum n


@dataclass(frozen=True)
class Changes:
    metric: str
    period: str
    current_start: date | None
    previous_start: date | None
    q: float
    changes: list[Change]


def previous_start(period: Period, start: date) -> date:
    if period == "day":
        return start - timedelta(days=1)
    if period == "week":
        return start - timedelta(days=7)
    months = 3 if period == "quarter" else 1
    month = start.month - months
    return date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _difference(metric: Metric, a: Mapping[str, int], b: Mapping[str, int], confidence: float) -> Difference:
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
    q: float = 0.05,
    confidence: float = 0.95,
) -> Changes:
    """Each group's figure this period against the previous one: difference, interval, p, BH-adjusted p.

    ``current`` is the first day of the period to compare (the latest with answers by default).
    """
    if period == "all":
        raise ValidationFailed(
            "a change compares two periods: choose day, week, month or quarter", field="period"
        )
    rows = statistics(
        organisation=organisation,
        period=period,
        group_by=group_by,
        filters=filters,
        invitations=metric == "response_rate",
        measures=MEASURES_OF.get(metric),
    )
    # Periods with this metric's answers: a roll-up row may hold other figures only.
    buckets = sorted({r["bucket"] for r in rows if r["bucket"] and estimate_of(metric, r).n})
    if current is None and not buckets:
        return Changes(metric, period, None, None, q, [])
    start = current or buckets[-1]
    before = previous_start(period, start)
    by_period: dict[date, dict[tuple, dict]] = {start: {}, before: {}}
    for row in rows:
        if row["bucket"] in by_period:
            by_period[row["bucket"]][tuple(row[d] for d in group_by)] = row
    labels = labels_of(organisation=organisation)
    min_n = analytics_settings(organisation=organisation).min_n
    pairs = []
    for key in sorted(set(by_period[start]) & set(by_period[before]), key=str):
        a, b = by_period[start][key], by_period[before][key]
        ea, eb = estimate_of(metric, a, confidence=confidence), estimate_of(metric, b, confidence=confidence)
        if ea.n == 0 or eb.n == 0:
            continue
        label = " · ".join(labels.of(d, k) or "—" for d, k in zip(group_by, key, strict=True))
        pairs.append((label, ea, eb, _difference(metric, a, b, confidence)))
    tested = [i for i, pair in enumerate(pairs) if pair[3].p_value is not None]
    control = benjamini_hochberg([pairs[i][3].p_value for i in tested], q=q)  # type: ignore[misc]
    adjusted = {i: (float(control.adjusted[j]), bool(control.rejected[j])) for j, i in enumerate(tested)}
    changes = [
        Change(
            label,
            ea,
            eb,
            diff,
            adjusted.get(i, (None, False))[0],
            adjusted.get(i, (None, False))[1],
            ea.n >= min_n and eb.n >= min_n,
        )
        for i, (label, ea, eb, diff) in enumerate(pairs)
    ]
    return Changes(metric, period, start, before, q, changes)
