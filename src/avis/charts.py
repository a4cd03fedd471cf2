"""Charts as Vega-Lite specs (built with Altair), drawn to SVG on the server.

Pages embed the SVG inline: no JavaScript, nothing fetched by the browser,
numbers and dates formatted in the reader's language by vl-convert's own
d3 locales. Every chart a page shows goes through ``render_svg``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import altair as alt
import vl_convert as vlc
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

# d3's locale names for the languages avis speaks.
_FORMAT_LOCALES = {"fr": "fr-FR", "en": "en-GB"}

# One quiet look for every chart: the page's font, no chart border, muted grid.
THEME: dict[str, Any] = {
    "background": None,
    "font": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e5e7eb", "domainColor": "#9ca3af"},
    # labelLimit 0: a legend label is never cut ("too few answers to judg"); long ones wrap
    # because legends sit below the chart, in columns.
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 0},
    "range": {"category": ["#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2"]},
}


def _locale(language: str | None) -> str:
    return _FORMAT_LOCALES.get((language or translation.get_language() or "en")[:2], "en-GB")


@lru_cache(maxsize=4)
def _time_locale(name: str) -> dict[str, Any]:
    return vlc.get_time_format_locale(name)  # type: ignore[no-any-return]


def render_svg(chart: alt.TopLevelMixin | dict[str, Any], *, language: str | None = None) -> SafeString:
    """The chart as an inline ``<svg>``, in the active language unless one is given.

    ``title`` and ``description`` of the chart become the SVG's accessible name,
    so give every chart a description a screen reader can say.
    """
    spec = chart.to_dict() if hasattr(chart, "to_dict") else dict(chart)
    locale = _locale(language)
    svg = vlc.vegalite_to_svg(
        spec,
        config=THEME,
        format_locale=locale,
        time_format_locale=_time_locale(locale),
    )
    svg = _scalable(svg)
    description = spec.get("description")
    if description:
        # vl-convert writes no role; a labelled image is what assistive technology expects.
        escaped = str(description).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escaped}" ', 1)
    return mark_safe(svg)  # noqa: S308 - produced by vl-convert from our own spec, labels escaped by it


def _scalable(svg: str) -> str:
    """Give the SVG a viewBox: a page (or the PDF's A4 column) narrower than the chart then
    scales it down whole, where without one it cuts the right side off (a legend's last letters)."""
    head = svg[: svg.find(">") + 1]
    size = re.search(r'width="([\d.]+)" height="([\d.]+)"', head)
    if size is None or "viewBox" in head:
        return svg
    return svg.replace("<svg ", f'<svg viewBox="0 0 {size.group(1)} {size.group(2)}" ', 1)
