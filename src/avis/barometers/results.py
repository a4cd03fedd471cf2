"""A wave's respondents, their weights and its design-based figures: what the report and the exports read.

Weights follow docs/barometers.md ("Report"): the design weight 1/π of each eligible sampled case
(cases found not eligible are left out), the non-response adjustment within its stratum, then
raking of the respondents to the population margins (the barometer's uploaded targets, else the
frame's own counts per stratum attribute) with the adjustment bounded to ``RAKING_BOUNDS``. The
statistics are ``avis.analytics.survey_design``'s; a wave that cannot be weighted (a stratum with
no respondent or a single one, bounds that cannot be met) keeps its answers and says why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from avis.analytics import survey_design
from avis.analytics.aapor import Disposition
from avis.analytics.weighting import RakingFailed
from avis.barometers.dispositions import case_dispositions
from avis.barometers.models import SampledCase, Wave, WaveStratum
from avis.errors import ValidationFailed
from avis.surveys.models import Answer, Question, QuestionKind
from avis.surveys.queries import version_questions

# The raking factor w_calibrated / w stays within these bounds (R: calibrate(bounds=…)).
RAKING_BOUNDS = (0.3, 3.0)
# What each scored question is summarised by: NPS on 0–10, the share of 4–5 on a 1–5
# satisfaction scale (top-2-box), the mean of the 1–7 effort scale.
SUMMARIES = {QuestionKind.NPS: "nps", QuestionKind.CSAT: "proportion", QuestionKind.CES: "mean"}
TOP_TWO = 4


@dataclass(frozen=True)
class Respondent:
    case_id: int
    stratum: str
    values: dict[str, str]  # the stratum's attribute values
    inclusion_probability: float
    disposition: str
    answers: dict[str, Answer]
    design_weight: float
    weight: float | None  # final (calibrated) weight; None when the wave could not be weighted


@dataclass(frozen=True)
class QuestionFigures:
    question: Question
    summary: str  # "nps", "proportion" (top-2-box) or "mean"
    overall: survey_design.DesignEstimate
    # attribute → value → estimate, each subgroup a domain of the whole design
    domains: dict[str, dict[Hashable, survey_design.DesignEstimate]]


@dataclass
class WaveResults:
    wave: Wave
    questions: list[Question]
    strata: list[WaveStratum]
    respondents: list[Respondent]
    eligible_sampled: int
    margins: dict[str, dict[str, float]] = field(default_factory=dict)
    margins_source: str = ""  # "uploaded" or "frame"
    report: survey_design.WeightReport | None = None
    problem: str = ""  # why the wave could not be weighted
    figures: list[QuestionFigures] = field(default_factory=list)
    method: str = ""


def wave_results(*, wave: Wave, now: datetime | None = None) -> WaveResults:
    """Respondents with their weights and the design-based figure of every scored question."""
    barometer = wave.barometer
    strata = list(WaveStratum.objects.filter(organisation_id=wave.organisation_id, wave=wave).order_by("key"))
    by_id = {s.pk: s for s in strata}
    dispositions = {d.case_id: d.disposition for d in case_dispositions(wave=wave, now=now)}
    cases = list(
        SampledCase.objects.filter(organisation_id=wave.organisation_id, wave=wave)
        .exclude(pk__in=[pk for pk, d in dispositions.items() if d == Disposition.NOT_ELIGIBLE])
        .select_related("invitation__response")
        .order_by("id")
    )
    answers: dict[int, dict[str, Answer]] = defaultdict(dict)
    for answer in Answer.objects.filter(
        organisation_id=wave.organisation_id, response__invitation__barometer_case__wave=wave
    ).select_related("question"):
        answers[answer.response_id][answer.question.code] = answer
    response_of = {
        case.pk: getattr(case.invitation, "response", None) if case.invitation_id else None for case in cases
    }
    responded = np.array([response_of[c.pk] is not None for c in cases], dtype=bool)
    version = wave.version or (cases[0].invitation.version if cases and cases[0].invitation_id else None)
    questions = version_questions(version) if version else []
    attributes = barometer.stratum_attributes
    results = WaveResults(
        wave=wave, questions=questions, strata=strata, respondents=[], eligible_sampled=len(cases)
    )
    results.margins, results.margins_source = _margins(barometer.population_targets, strata, attributes)
    weights: np.ndarray | None = None
    design = None
    categories = {a: [str(by_id[c.stratum_id].values.get(a, "")) for c in cases] for a in attributes}
    if responded.any():
        try:
            weighted = survey_design.weight_wave(
                [by_id[c.stratum_id].key for c in cases],
                {s.key: s.population for s in strata},
                [c.inclusion_probability for c in cases],
                responded,
                categories=categories if results.margins else None,
                margins=results.margins or None,
                bounds=RAKING_BOUNDS if results.margins else None,
            )
        except (ValidationFailed, RakingFailed) as exc:
            results.problem = str(getattr(exc, "message", exc))
        else:
            design, weights, results.report = weighted.design, weighted.design.weights, weighted.report
    position = 0
    for case in cases:
        response = response_of[case.pk]
        if response is None:
            continue
        stratum = by_id[case.stratum_id]
        results.respondents.append(
            Respondent(
                case_id=case.pk,
                stratum=stratum.key,
                values={a: str(stratum.values.get(a, "")) for a in attributes},
                inclusion_probability=case.inclusion_probability,
                disposition=str(dispositions[case.pk]),
                answers=answers.get(response.pk, {}),
                design_weight=1 / case.inclusion_probability,
                weight=None if weights is None else float(weights[position]),
            )
        )
        position += 1
    if design is not None:
        results.method = survey_design._method(design)  # noqa: SLF001 — the one wording of the method
        results.figures = _figures(design, questions, results.respondents, attributes, barometer.confidence)
    return results


def _margins(
    targets: dict, strata: list[WaveStratum], attributes: list[str]
) -> tuple[dict[str, dict[str, float]], str]:
    """The population counts raked to: the uploaded targets, else the frame's per stratum attribute."""
    if targets:
        return {a: {str(k): float(v) for k, v in m.items()} for a, m in targets.items()}, "uploaded"
    margins: dict[str, dict[str, float]] = {}
    for attribute in attributes:
        counts: dict[str, float] = defaultdict(float)
        for stratum in strata:
            counts[str(stratum.values.get(attribute, ""))] += stratum.population
        margins[attribute] = dict(counts)
    return margins, "frame"


def score(answer: Answer | None, summary: str) -> float:
    """One respondent's value for a summary; NaN when unanswered or not applicable."""
    if answer is None or answer.not_applicable or answer.number is None:
        return float("nan")
    if summary == "proportion":
        return 1.0 if answer.number >= TOP_TWO else 0.0
    return float(answer.number)


def _figures(
    design: survey_design.SurveyDesign,
    questions: list[Question],
    respondents: list[Respondent],
    attributes: list[str],
    confidence: float,
) -> list[QuestionFigures]:
    found = []
    for question in questions:
        summary = SUMMARIES.get(question.kind)  # type: ignore[call-overload]
        if summary is None:
            continue
        values = [score(r.answers.get(question.code), summary) for r in respondents]
        if all(np.isnan(values)):
            continue
        found.append(
            QuestionFigures(
                question=question,
                summary=summary,
                overall=survey_design.estimate(design, values, summary, confidence=confidence),  # type: ignore[arg-type]
                domains={
                    attribute: survey_design.estimate_by(
                        design,
                        values,
                        [r.values[attribute] for r in respondents],
                        summary,  # type: ignore[arg-type]
                        confidence=confidence,
                    )
                    for attribute in attributes
                },
            )
        )
    return found
