"""What a wave's results page reads: the wave's design-based figures (``results.wave_results``), its
response rates (``dispositions.wave_rates``), the change since the previous wave per subgroup, and
the series of every wave with a break where a question's wording changed.

Changes are judged as the rest of avis judges them (``analytics.comparison.judge_family``): a row
with fewer answers than the organisation's minimum n on either side gets no test and no verdict;
the subgroups of one attribute are one family under Benjamini–Hochberg, and each interval is drawn
at the family's level so that "significant" is exactly "the interval leaves out 0". The test of two
waves is ``survey_design.wave_difference`` (independent samples, design-based standard errors).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from avis.analytics.comparison import Difference, Family, judge_family
from avis.analytics.queries import analytics_settings
from avis.analytics.survey_design import DesignEstimate, wave_difference
from avis.barometers.dispositions import WaveRates, wave_rates
from avis.barometers.models import Barometer, Wave, WaveStatus
from avis.barometers.results import QuestionFigures, WaveResults, wave_results
from avis.surveys.models import QuestionKind

# The figure a barometer's changes are judged on, by its precision goal's metric.
KEY_KIND = {"nps": QuestionKind.NPS, "csat": QuestionKind.CSAT}
FDR = 0.05


@dataclass(frozen=True)
class ChangeRow:
    attribute: str  # "" for all respondents
    value: str
    before: DesignEstimate | None
    after: DesignEstimate | None
    difference: Difference | None
    verdict: str  # rise, fall, steady, too_few, none (no earlier wave or no answer on a side)


@dataclass(frozen=True)
class ChangeTable:
    attribute: str
    rows: list[ChangeRow]
    level: float  # the confidence of the intervals shown (the family's)
    tested: int


@dataclass(frozen=True)
class TrendPoint:
    wave: int
    frame_date: object
    estimate: DesignEstimate
    break_before: bool  # the question's wording changed since the previous wave shown


@dataclass
class WavePage:
    wave: Wave
    results: WaveResults
    rates: WaveRates
    min_n: int
    previous: Wave | None = None
    key: QuestionFigures | None = None
    # The key question was worded differently at the previous wave: the two are not compared.
    reworded: bool = False
    changes: list[ChangeTable] = field(default_factory=list)
    # question code → its points, wave after wave
    trends: dict[str, list[TrendPoint]] = field(default_factory=dict)


def _figure(results: WaveResults, kind: str) -> QuestionFigures | None:
    return next((f for f in results.figures if f.question.kind == kind), None)


def _verdict(judged: object, difference: Difference | None) -> str:
    if difference is None or difference.value is None:
        return "none"
    if not judged.judged:  # type: ignore[attr-defined]
        return "too_few"
    if judged.significant:  # type: ignore[attr-defined]
        return "rise" if difference.value > 0 else "fall"
    return "steady"


def _family(
    attribute: str,
    pairs: list[tuple[str, DesignEstimate | None, DesignEstimate | None]],
    min_n: int,
) -> ChangeTable:
    def comparer(before: DesignEstimate | None, after: DesignEstimate | None):  # noqa: ANN202
        def compare(confidence: float) -> Difference:
            if before is None or after is None:
                return Difference(None, None, None, None, 0, 0, "no estimate on one side")
            return wave_difference(before, after, confidence=confidence)

        return compare

    compare = [comparer(before, after) for _, before, after in pairs]
    judged = [
        before is not None
        and after is not None
        and before.value is not None
        and after.value is not None
        and before.n >= min_n
        and after.n >= min_n
        for _, before, after in pairs
    ]
    family: Family = judge_family(compare, judged, q=FDR)
    rows = []
    for (value, before, after), found in zip(pairs, family.rows, strict=True):
        difference = found.difference if before is not None and after is not None else None
        rows.append(ChangeRow(attribute, value, before, after, difference, _verdict(found, difference)))
    return ChangeTable(attribute, rows, family.level, family.tested)


def _changes(now_key: QuestionFigures, before_key: QuestionFigures | None, min_n: int) -> list[ChangeTable]:
    tables = [
        _family("", [("", before_key.overall if before_key else None, now_key.overall)], min_n),
    ]
    for attribute, by_value in now_key.domains.items():
        earlier: dict[Hashable, DesignEstimate] = before_key.domains.get(attribute, {}) if before_key else {}
        values = sorted(set(by_value) | set(earlier), key=str)
        tables.append(_family(attribute, [(str(v), earlier.get(v), by_value.get(v)) for v in values], min_n))
    return tables


def series(*, barometer: Barometer, now: datetime | None = None) -> dict[str, list[TrendPoint]]:
    """Each scored question's overall estimate at every wave in fieldwork or closed, with the breaks
    where its wording changed (the API's series; the results page draws the same)."""
    last = (
        Wave.objects.filter(
            organisation_id=barometer.organisation_id,
            barometer=barometer,
            status__in=[WaveStatus.FIELDWORK, WaveStatus.CLOSED],
        )
        .order_by("-number")
        .first()
    )
    return _trends(barometer, last, {}, now) if last is not None else {}


def _trends(
    barometer: Barometer, upto: Wave, known: dict[int, WaveResults], now: datetime | None
) -> dict[str, list[TrendPoint]]:
    """Each scored question's overall estimate, wave after wave up to this one; a point follows a
    break when the question's wording (its prompt in the wave's survey version) changed."""
    waves = list(
        Wave.objects.filter(
            organisation_id=barometer.organisation_id,
            barometer=barometer,
            number__lte=upto.number,
            status__in=[WaveStatus.FIELDWORK, WaveStatus.CLOSED],
        ).order_by("number")
    )
    trends: dict[str, list[TrendPoint]] = {}
    wording: dict[str, object] = {}
    for wave in waves:
        if wave.pk not in known:
            known[wave.pk] = wave_results(wave=wave, now=now)
        for found in known[wave.pk].figures:
            code = found.question.code
            prompt = found.question.prompt
            changed = code in wording and wording[code] != prompt
            wording[code] = prompt
            point = TrendPoint(wave.number, wave.frame_date, found.overall, changed)
            trends.setdefault(code, []).append(point)
    return trends


def wave_page(*, wave: Wave, now: datetime | None = None) -> WavePage:
    """Everything the wave's results page shows, computed once."""
    barometer = wave.barometer
    results = wave_results(wave=wave, now=now)
    min_n = analytics_settings(organisation=wave.organisation).min_n
    page = WavePage(wave=wave, results=results, rates=wave_rates(wave=wave, now=now), min_n=min_n)
    page.previous = (
        Wave.objects.filter(
            organisation_id=wave.organisation_id,
            barometer=barometer,
            number__lt=wave.number,
            status=WaveStatus.CLOSED,
        )
        .order_by("-number")
        .first()
    )
    known = {wave.pk: results}
    kind = KEY_KIND.get(barometer.metric, QuestionKind.NPS)
    page.key = _figure(results, kind)
    if page.key is not None:
        before = None
        if page.previous is not None:
            known[page.previous.pk] = wave_results(wave=page.previous, now=now)
            before = _figure(known[page.previous.pk], kind)
        # Across a change of wording the two waves do not measure the same thing: no difference,
        # no test, no verdict (the series shows the break).
        page.reworded = before is not None and before.question.prompt != page.key.question.prompt
        page.changes = [] if page.reworded else _changes(page.key, before, min_n)
    page.trends = _trends(barometer, wave, known, now)
    return page
