"""The charts of the analytics pages and reports, as Altair specs drawn by ``avis.charts.render_svg``.

Each takes figures computed elsewhere (queries, fair views): a chart never computes a metric.
Intervals are drawn as bands or rules, small samples as hollow points.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, timedelta

import altair as alt
from django.utils import formats
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.analytics.fair import FairView
from avis.analytics.queries import MetricValue
from avis.charts import render_svg
from avis.words import team_name, touchpoint_name

# Time axes: labelled as the period is named: "Mar 2026" for a month, "Q1 2026" for a quarter.
_TICK_FORMATS = {"day": "%d %b", "week": "%d %b", "month": "%b %Y", "quarter": "Q%q %Y"}
# About how wide one label is (px): fewer ticks than this allows would overlap.
_LABEL_WIDTH = 62
PANEL_COLUMNS = 2


def _series_rows(
    values: Sequence[MetricValue],
    *,
    percent: bool,
    language: str | None = None,
    organisation: Organisation | None = None,
) -> list[dict]:
    """One row per value with a period, its interval and whether it rests on enough answers.
    Touchpoints and teams are named in ``language`` by the ``organisation``'s own names."""
    scale = 100 if percent else 1
    return [
        {
            "period": v.period_start.isoformat(),
            "group": (
                touchpoint_name(v.touchpoint, organisation, language)
                or team_name(v.team, organisation)
                or v.agent
                or v.channel
                or _("all")
            ),
            "value": v.estimate.value * scale if v.estimate.value is not None else None,
            "low": v.estimate.ci_low * scale if v.estimate.ci_low is not None else None,
            "high": v.estimate.ci_high * scale if v.estimate.ci_high is not None else None,
            "n": v.estimate.n,
            "reliable": _("yes") if v.reliable else _("no (n below the minimum)"),
        }
        for v in values
        if v.period_start
    ]


def series_chart(
    values: Sequence[MetricValue],
    *,
    title: str,
    percent: bool,
    language: str | None = None,
    organisation: Organisation | None = None,
) -> SafeString:
    """A metric over time per touchpoint: the line, its interval as a band, hollow points below min n.

    Ticks fall on the periods drawn (monthly figures, monthly ticks). When touchpoints' bands
    overlap, each touchpoint gets its own panel on a shared scale: four bands over one another
    cannot be told apart.
    """
    rows = _series_rows(values, percent=percent, language=language, organisation=organisation)
    groups = list(dict.fromkeys(row["group"] for row in rows))
    panels = len(groups) > 1 and bands_overlap(rows)
    width = 560 if not panels else 560 // PANEL_COLUMNS - 20
    period = values[0].period if values else "month"
    x = alt.X("period:T", title=None, scale=alt.Scale(type="utc"), axis=_time_axis(period, rows, width=width))
    color = alt.Color(
        "group:N", title=_("Touchpoint"), legend=None if panels else alt.Legend(orient="bottom")
    )
    base = alt.Chart().encode(x=x, color=color)
    # stack=None: each band spans its own interval, not piled on the other touchpoints' bands.
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("low:Q", title=None, stack=None), y2="high:Q")
    line = base.mark_line().encode(y="value:Q")
    tooltip = ["group:N", "period:T", "value:Q", "low:Q", "high:Q", "n:Q"]
    hollow = base.mark_point(size=40).encode(y="value:Q", tooltip=tooltip)
    filled = (
        base.transform_filter(alt.datum.reliable == _("yes"))
        .mark_point(size=40, filled=True, opacity=1)
        .encode(y="value:Q", tooltip=tooltip)
    )
    layers = alt.layer(band, line, hollow, filled, data=alt.Data(values=rows))
    title = period_title(title, period)
    description = _("%(title)s over time with its 95 %% confidence interval as a shaded band") % {
        "title": title
    }
    if panels:
        chart = layers.properties(width=width, height=160).facet(
            facet=alt.Facet(
                "group:N", title=None, header=alt.Header(labelFontSize=12, labelFontWeight="bold")
            ),
            columns=PANEL_COLUMNS,
        )
    else:
        chart = layers.properties(width=width, height=220)
    subtitle = _("Shaded: 95 % confidence interval. Hollow points: fewer answers than the minimum.")
    chart = chart.properties(
        title=alt.TitleParams(title, subtitle=subtitle, anchor="start"), description=description
    )
    return render_svg(chart, language=language)


def period_title(metric: str, period: str) -> str:
    """What a time chart shows, named by its period: "NPS by month"."""
    titles = {
        "day": _("%(metric)s by day"),
        "week": _("%(metric)s by week"),
        "month": _("%(metric)s by month"),
        "quarter": _("%(metric)s by quarter"),
    }
    return titles.get(period, "%(metric)s") % {"metric": metric}


def bands_overlap(rows: Sequence[dict]) -> bool:
    """Whether two groups' intervals overlap in some period: then one chart cannot show them apart."""
    by_period: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        if row["low"] is not None and row["high"] is not None:
            by_period.setdefault(row["period"], []).append((row["low"], row["high"]))
    for bands in by_period.values():
        bands.sort()
        if any(later[0] <= earlier[1] for earlier, later in itertools.pairwise(bands)):
            return True
    return False


def _time_axis(period: str, rows: Sequence[dict], *, width: int) -> alt.Axis:
    """A tick on each period drawn (every ``step`` periods when the width holds fewer labels).

    Periods are dates read as UTC midnight: ticks and labels are placed in UTC too, or a reader
    west of Greenwich would see each month labelled by the day before.
    """
    label = _TICK_FORMATS.get(period, _TICK_FORMATS["month"])
    periods = _every_period(period, sorted({date.fromisoformat(row["period"]) for row in rows}))
    step = max(1, -(-len(periods) // max(1, width // _LABEL_WIDTH)))
    ticks = periods[::step]
    return alt.Axis(
        values=[alt.DateTime(year=d.year, month=d.month, date=d.day, utc=True) for d in ticks],
        format=label,
        labelAngle=0,
        grid=True,
    )


def _every_period(period: str, drawn: list[date]) -> list[date]:
    """Every period from the first drawn to the last, those without a figure included."""
    if len(drawn) < 2:
        return drawn
    if period in ("day", "week"):
        days = 1 if period == "day" else 7
        return [drawn[0] + timedelta(days=i) for i in range(0, (drawn[-1] - drawn[0]).days + 1, days)]
    months = 3 if period == "quarter" else 1
    first, last = drawn[0], drawn[-1]
    span = (last.year - first.year) * 12 + last.month - first.month
    return [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range(0, span + 1, months)
    ]


def funnel_chart(view: FairView, *, title: str, language: str | None = None) -> SafeString:
    """Each unit's share against its n, inside the 95 % and 99.8 % funnel limits around the mean."""
    limit_rows = []
    for level, (lower, upper) in view.limits.items():
        # 99.8 % in English, 99,8 % in French: the legend's numbers in the reader's language.
        name = f"{level * 100:g} %".replace(".", formats.get_format("DECIMAL_SEPARATOR"))
        for n, lo, hi in zip(view.funnel_n, lower, upper, strict=True):
            limit_rows += [
                {"n": n, "share": lo * 100, "limit": name, "side": "lower"},
                {"n": n, "share": hi * 100, "limit": name, "side": "upper"},
            ]
    status_names = {
        "below": _("below the limit at 99.8 %"),
        "above": _("above the limit at 99.8 %"),
        "within": _("within the limits"),
        "not_ranked": _("too few answers to judge"),
    }
    point_rows = [
        {"n": u.n, "share": u.raw * 100, "name": u.name, "status": status_names[u.status]}
        for u in view.units
        if u.raw is not None
    ]
    # Scaled to the data: the limits are drawn over the units' own range of n, on a log axis
    # only when that range spans more than a factor of ten.
    low, high = (view.funnel_n[0], view.funnel_n[-1]) if view.funnel_n else (1, 10)
    x = alt.X(
        "n:Q",
        title=_("Answers about the agent (n)"),
        scale=alt.Scale(type="log" if high > 10 * low else "linear", domain=[low, high], nice=False),
    )
    lines = (
        alt.Chart(alt.Data(values=limit_rows))
        .mark_line(strokeDash=[4, 3], color="#6b7280")
        .encode(
            x=x,
            y=alt.Y("share:Q", title=_("Top-2-box share (%)"), scale=alt.Scale(zero=False)),
            detail=["limit:N", "side:N"],
            strokeWidth=alt.StrokeWidth(
                "limit:N",
                title=_("Limit"),
                scale=alt.Scale(range=[1.5, 0.8]),
                legend=alt.Legend(orient="bottom"),
            ),
        )
    )
    target = (
        alt.Chart(alt.Data(values=[{"share": (view.target or 0) * 100}]))
        .mark_rule(color="#111827")
        .encode(y="share:Q")
    )
    points = (
        alt.Chart(alt.Data(values=point_rows))
        .mark_point(size=60, filled=True)
        .encode(
            x=x,
            y="share:Q",
            color=alt.Color("status:N", title=_("Status"), legend=alt.Legend(orient="bottom", columns=2)),
            shape=alt.Shape("status:N", title=_("Status"), legend=alt.Legend(orient="bottom", columns=2)),
            tooltip=["name:N", "n:Q", "share:Q", "status:N"],
        )
    )
    chart = (lines + target + points).properties(
        width=560,
        height=300,
        title=title,
        description=_(
            "Funnel plot: each point is one %(level)s, its share of top-2-box answers against its number of "
            "answers; dashed lines are the 95 %% and 99.8 %% limits around the mean"
        )
        % {"level": view.level},
    )
    return render_svg(chart, language=language)


def bar_chart(
    rows: Sequence[dict],
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    title: str,
    language: str | None = None,
) -> SafeString:
    """A plain bar chart (distributions of contact pressure, skip reasons)."""
    chart = (
        alt.Chart(alt.Data(values=list(rows)))
        .mark_bar(color="#2563eb")
        .encode(
            x=alt.X(f"{x}:O", title=x_title, sort=None),
            y=alt.Y(f"{y}:Q", title=y_title),
            tooltip=[f"{x}:O", f"{y}:Q"],
        )
        .properties(width=480, height=200, title=title, description=title)
    )
    return render_svg(chart, language=language)


def trend_panels(
    values: Sequence[MetricValue],
    *,
    title: str,
    percent: bool,
    language: str | None = None,
    organisation: Organisation | None = None,
) -> list[SafeString]:
    """A metric month by month, one small chart per touchpoint, all on the same scales.

    Small multiples drawn as separate charts: each touchpoint's interval reads on its own, the
    shared axes keep them comparable, and the page lays them out in as many columns as the
    screen holds (one on a phone). Hollow points rest on fewer answers than the minimum.
    """
    rows = _series_rows(values, percent=percent, language=language, organisation=organisation)
    if not rows:
        return []
    bounds = [r[k] for r in rows for k in ("low", "high", "value") if r[k] is not None]
    first, last = (
        date.fromisoformat(p) for p in (min(r["period"] for r in rows), max(r["period"] for r in rows))
    )
    width = 260
    x = alt.X(
        "period:T",
        title=None,
        scale=alt.Scale(
            type="utc",
            domain=[alt.DateTime(year=d.year, month=d.month, date=d.day, utc=True) for d in (first, last)],
        ),
        axis=_time_axis("month", rows, width=width),
    )
    y_scale = alt.Scale(domain=[min(bounds), max(bounds)], nice=True)
    y_title = period_title(title, "month")
    y = alt.Y("value:Q", title=y_title, scale=y_scale)
    tooltip = ["period:T", "value:Q", "low:Q", "high:Q", "n:Q"]
    charts = []
    for group in dict.fromkeys(r["group"] for r in rows):
        base = alt.Chart(alt.Data(values=[r for r in rows if r["group"] == group])).encode(x=x)
        band = base.mark_area(opacity=0.2, color="#2563eb").encode(
            y=alt.Y("low:Q", title=y_title, stack=None, scale=y_scale), y2="high:Q"
        )
        line = base.mark_line(color="#2563eb").encode(y=y)
        hollow = base.mark_point(size=30, color="#2563eb").encode(y=y, tooltip=tooltip)
        filled = (
            base.transform_filter(alt.datum.reliable == _("yes"))
            .mark_point(size=30, filled=True, opacity=1, color="#2563eb")
            .encode(y=y, tooltip=tooltip)
        )
        chart = (band + line + hollow + filled).properties(
            width=width,
            height=130,
            title=alt.TitleParams(group, anchor="start"),
            description=_(
                "%(title)s of %(group)s month by month with its 95 %% confidence interval as a shaded band; "
                "hollow points rest on fewer answers than the minimum"
            )
            % {"title": title, "group": group},
        )
        charts.append(render_svg(chart, language=language))
    return charts


def estimate_chart(
    rows: Sequence[dict], *, title: str, value_title: str, language: str | None = None
) -> SafeString:
    """Estimates of subgroups side by side, each a point on its interval (rows: label, value, low, high)."""
    base = alt.Chart(alt.Data(values=list(rows))).encode(
        y=alt.Y("label:N", title=None, sort=None),
    )
    chart = (
        base.mark_rule(color="#93c5fd", strokeWidth=3).encode(
            x=alt.X("low:Q", title=value_title), x2="high:Q"
        )
        + base.mark_point(color="#1d4ed8", filled=True, size=60).encode(x="value:Q")
    ).properties(width=440, height=max(40, 26 * len(rows)), title=title, description=title)
    return render_svg(chart, language=language)
