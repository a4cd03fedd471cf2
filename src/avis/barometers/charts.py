"""The barometer's charts (Vega-Lite through ``avis.charts.render_svg``, drawn to SVG on the server)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
from django.utils import formats
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from avis.barometers.wave_page import TrendPoint
from avis.charts import render_svg


def wave_trend_chart(
    points: Sequence[TrendPoint], *, title: str, percent: bool, language: str | None = None
) -> SafeString:
    """One figure wave after wave, each point on its interval; the line is cut, and a dashed rule
    drawn, where the question's wording changed (the two sides do not measure the same thing)."""
    scale = 100 if percent else 1
    segment = 0
    rows = []
    for point in points:
        segment += 1 if point.break_before else 0
        estimate = point.estimate
        if estimate.value is None:
            continue
        rows.append(
            {
                "wave": _("Wave %(number)s") % {"number": point.wave}
                + f" · {formats.date_format(point.frame_date, 'SHORT_DATE_FORMAT')}",
                "value": round(estimate.value * scale, 2),
                "low": round(estimate.ci_low * scale, 2),
                "high": round(estimate.ci_high * scale, 2),
                "n": estimate.n,
                "segment": segment,
                "break": _("wording changed") if point.break_before else "",
            }
        )
    order = [r["wave"] for r in rows]
    x = alt.X("wave:N", title=None, sort=order, axis=alt.Axis(labelAngle=0, labelLimit=120))
    base = alt.Chart(alt.Data(values=rows)).encode(x=x)
    interval = base.mark_rule(color="#93c5fd", strokeWidth=3).encode(
        y=alt.Y("low:Q", title=title, scale=alt.Scale(zero=False)), y2="high:Q"
    )
    line = base.mark_line(color="#1d4ed8").encode(y="value:Q", detail="segment:N")
    dots = base.mark_point(color="#1d4ed8", filled=True, size=50).encode(
        y="value:Q", tooltip=["wave:N", "value:Q", "low:Q", "high:Q", "n:Q"]
    )
    breaks = base.transform_filter(alt.datum["break"] != "")
    rule = breaks.mark_rule(color="#b91c1c", strokeDash=[4, 3], xOffset=-30).encode()
    label = breaks.mark_text(color="#b91c1c", align="left", dx=-26, dy=-6, baseline="bottom").encode(
        text="break:N", y=alt.value(0)
    )
    chart = (interval + line + dots + rule + label).properties(
        width=max(200, 110 * len(rows)),
        height=180,
        title=alt.TitleParams(title, anchor="start"),
        description=_(
            "%(title)s wave after wave, each point on its confidence interval; a dashed line marks a change "
            "of wording"
        )
        % {"title": title},
    )
    return render_svg(chart, language=language)
