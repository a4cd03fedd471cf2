"""The charts of the analytics pages and reports, as Altair specs drawn by ``avis.charts.render_svg``.

Each takes figures computed elsewhere (queries, fair views): a chart never computes a metric.
Intervals are drawn as bands or rules, small samples as hollow points.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from avis.analytics.fair import FairView
from avis.analytics.queries import MetricValue
from avis.charts import render_svg


def series_chart(
    values: Sequence[MetricValue], *, title: str, percent: bool, language: str | None = None
) -> SafeString:
    """A metric over time per touchpoint: the line, its interval as a band, greyed points below min n."""
    scale = 100 if percent else 1
    rows = [
        {
            "period": v.period_start.isoformat() if v.period_start else "",
            "group": v.touchpoint or v.team or v.agent or v.channel or _("all"),
            "value": v.estimate.value * scale if v.estimate.value is not None else None,
            "low": v.estimate.ci_low * scale if v.estimate.ci_low is not None else None,
            "high": v.estimate.ci_high * scale if v.estimate.ci_high is not None else None,
            "n": v.estimate.n,
            "reliable": _("yes") if v.reliable else _("no (n below the minimum)"),
        }
        for v in values
        if v.period_start
    ]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("period:T", title=_("Period")),
        color=alt.Color("group:N", title=_("Touchpoint")),
    )
    # stack=None: each band spans its own interval, not piled on the other touchpoints' bands.
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("low:Q", title=title, stack=None), y2="high:Q")
    line = base.mark_line().encode(y="value:Q")
    tooltip = ["group:N", "period:T", "value:Q", "low:Q", "high:Q", "n:Q"]
    hollow = base.mark_point(size=40).encode(y="value:Q", tooltip=tooltip)
    filled = (
        base.transform_filter(alt.datum.reliable == _("yes"))
        .mark_point(size=40, filled=True, opacity=1)
        .encode(y="value:Q", tooltip=tooltip)
    )
    points = hollow + filled
    chart = (band + line + points).properties(
        width=560,
        height=220,
        title=title,
        description=_("%(title)s over time with its 95 %% confidence interval as a shaded band")
        % {"title": title},
    )
    return render_svg(chart, language=language)


def funnel_chart(view: FairView, *, title: str, language: str | None = None) -> SafeString:
    """Each unit's share against its n, inside the 95 % and 99.8 % funnel limits around the mean."""
    limit_rows = []
    for level, (lower, upper) in view.limits.items():
        name = f"{level * 100:g} %"
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
    x = alt.X("n:Q", title=_("Answers about the agent (n)"), scale=alt.Scale(type="log"))
    lines = (
        alt.Chart(alt.Data(values=limit_rows))
        .mark_line(strokeDash=[4, 3], color="#6b7280")
        .encode(
            x=x,
            y=alt.Y("share:Q", title=_("Top-2-box share (%)")),
            detail=["limit:N", "side:N"],
            strokeWidth=alt.StrokeWidth("limit:N", title=_("Limit"), scale=alt.Scale(range=[1.5, 0.8])),
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
            color=alt.Color("status:N", title=_("Status")),
            shape=alt.Shape("status:N", title=_("Status")),
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
