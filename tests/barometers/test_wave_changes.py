"""Wave-over-wave verdicts as the results page words them: a real shift in one region is a
significant fall, the others stay "no significant change", and a subgroup under the minimum n
gets no verdict at all (never "significant" below it)."""

from __future__ import annotations

from avis.analytics.survey_design import DesignEstimate
from avis.barometers.results import QuestionFigures
from avis.barometers.wave_page import _changes
from avis.surveys.models import Question


def nps(value: float, se: float, n: int) -> DesignEstimate:
    half = 1.96 * se
    return DesignEstimate(
        value, value - half, value + half, n, "design-based", se, half, n - 4, 1e5, 0.95, "nps"
    )


def figures(overall: DesignEstimate, **regions: DesignEstimate) -> QuestionFigures:
    return QuestionFigures(Question(code="nps", kind="nps"), "nps", overall, {"region": regions})


def test_one_regions_shift_is_flagged_and_nothing_else() -> None:
    before = figures(
        nps(30, 2, 1200),
        nord=nps(32, 4, 300),
        sud=nps(28, 4, 300),
        est=nps(31, 4, 300),
        ouest=nps(30, 20, 12),
    )
    after = figures(
        nps(24, 2, 1200),
        nord=nps(14, 4, 300),
        sud=nps(29, 4, 300),
        est=nps(32, 4, 300),
        ouest=nps(60, 20, 12),
    )
    overall, regions = _changes(after, before, min_n=30)
    assert overall.rows[0].verdict == "fall"
    verdicts = {row.value: row.verdict for row in regions.rows}
    assert verdicts == {"nord": "fall", "sud": "steady", "est": "steady", "ouest": "too_few"}
    # Under the minimum n: no test, so the family counts the three others only.
    assert regions.tested == 3
    nord = next(row for row in regions.rows if row.value == "nord")
    assert nord.difference.ci_high < 0 and nord.difference.value == -18


def test_without_an_earlier_wave_there_is_nothing_to_judge() -> None:
    (overall, regions) = _changes(figures(nps(30, 2, 1200), nord=nps(30, 4, 300)), None, min_n=30)
    assert overall.rows[0].verdict == "none" and regions.rows[0].verdict == "none"
