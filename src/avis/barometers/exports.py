"""A wave's answers with their weights, one row per respondent, as CSV, XLSX or Parquet.

The file a statistician reloads in R, SPSS or a spreadsheet: the case, its stratum and stratum
attributes, its final disposition, its inclusion probability, design weight 1/π and final weight
(empty when the wave could not be weighted, see the report), then one column per question (the score,
the choice's value or the comment; empty when unanswered or not applicable). Written by
``analytics.exports.write``, so text cells that a spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

from collections.abc import Iterator

from avis.analytics.exports import Format, write
from avis.audit.services import record
from avis.barometers.models import Wave
from avis.barometers.results import WaveResults, wave_results
from avis.surveys.models import Answer
from avis.tabular import neutralise

FIXED_COLUMNS = ("case", "stratum")
WEIGHT_COLUMNS = ("disposition", "inclusion_probability", "design_weight", "weight")


def wave_answer_columns(results: WaveResults) -> list[str]:
    attributes = results.wave.barometer.stratum_attributes
    return [*FIXED_COLUMNS, *attributes, *WEIGHT_COLUMNS, *(q.code for q in results.questions)]


def _value(answer: Answer | None) -> object:
    if answer is None or answer.not_applicable:
        return None
    if answer.number is not None:
        return int(answer.number)
    return answer.choice or answer.text or None


def wave_answer_rows(results: WaveResults) -> Iterator[tuple]:
    attributes = results.wave.barometer.stratum_attributes
    for r in results.respondents:
        row = (
            r.case_id,
            r.stratum,
            *(r.values[a] for a in attributes),
            r.disposition,
            r.inclusion_probability,
            r.design_weight,
            r.weight,
            *(_value(r.answers.get(q.code)) for q in results.questions),
        )
        yield tuple(neutralise(v) for v in row)


def export_wave_answers(*, wave: Wave, fmt: Format) -> bytes:
    """The wave's answers and weights in one file (the download is audited)."""
    results = wave_results(wave=wave)
    record(
        organisation=wave.organisation,
        action="export.downloaded",
        target=wave,
        object_label=f"barometer-{wave.barometer_id}-wave-{wave.number}.{fmt}",
        after={"format": fmt, "respondents": len(results.respondents)},
    )
    return write(wave_answer_rows(results), wave_answer_columns(results), fmt)


def wave_export_filename(wave: Wave, fmt: Format) -> str:
    return f"avis-{wave.organisation.slug}-barometer-{wave.barometer_id}-wave-{wave.number}.{fmt}"
