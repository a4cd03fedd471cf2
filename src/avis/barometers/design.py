"""The design of a wave: sample sizes per stratum from the precision goal, then the seeded draw.

The statistics are ``avis.analytics.survey_design``'s (sample size with the finite-population
correction, allocation, the stratified draw); this module gathers their inputs — the frame, the
goal, what earlier waves or the transactional answers say about the spread of the answers and
the response rate — and keeps what the wave must record about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from django.db.models import Count, Q

from avis.analytics import survey_design
from avis.barometers.frame import Frame
from avis.barometers.models import Allocation, Barometer, SampledCase, Wave, WaveStatus
from avis.surveys.models import Answer, QuestionKind

# Below this many earlier answers a variance is a guess; the worst case is used instead.
MIN_ANSWERS_FOR_VARIANCE = 30
# Below this many earlier sampled cases a response rate is a guess; the barometer's expectation stands.
MIN_CASES_FOR_RATE = 50
# The largest spread a score can have: NPS with half promoters and half detractors (points²), a
# 1–5 satisfaction split between its ends.
WORST_VARIANCE = {"nps": 10_000.0, "csat": 4.0}
KINDS = {"nps": (QuestionKind.NPS, "nps"), "csat": (QuestionKind.CSAT, "mean")}


@dataclass
class StratumPlan:
    sample_size: int
    target_completes: int
    inclusion_probability: float
    sampled_ids: np.ndarray


@dataclass
class Design:
    strata: list[StratumPlan]
    summary: dict[str, Any] = field(default_factory=dict)


def _variance(barometer: Barometer, before: Wave) -> tuple[float, str, int]:
    """S² of the indicator: from the barometer's earlier waves, else the transactional answers of
    the last year, else the worst case — with where it came from and on how many answers."""
    kind, estimator = KINDS[barometer.metric]
    answers = Answer.objects.filter(
        organisation_id=barometer.organisation_id, kind=kind, number__isnull=False
    )
    earlier = answers.filter(
        response__invitation__barometer_case__wave__barometer_id=barometer.pk or 0,
        response__invitation__barometer_case__wave__number__lt=before.number,
    )
    # A barometer being set up (not saved yet) has no earlier wave.
    values = list(earlier.values_list("number", flat=True)[:200_000]) if barometer.pk else []
    if len(values) >= MIN_ANSWERS_FOR_VARIANCE:
        return survey_design.indicator_variance(estimator, values), "earlier_waves", len(values)
    since = before.frame_date - timedelta(days=365)
    values = list(answers.filter(answered_at__date__gte=since).values_list("number", flat=True)[:200_000])
    if len(values) >= MIN_ANSWERS_FOR_VARIANCE:
        return survey_design.indicator_variance(estimator, values), "transactional", len(values)
    return WORST_VARIANCE[barometer.metric], "worst_case", 0


def _response_rates(barometer: Barometer, frame: Frame) -> tuple[list[float], str]:
    """Completes per sampled customer in each stratum, from the closed waves when they have enough."""
    rows = (
        SampledCase.objects.filter(wave__barometer_id=barometer.pk or 0, wave__status=WaveStatus.CLOSED)
        .values("stratum__key")
        .annotate(cases=Count("id"), completes=Count("id", filter=Q(completed_at__isnull=False)))
    )
    observed = {row["stratum__key"]: (row["cases"], row["completes"]) for row in rows}
    total_cases = sum(c for c, _ in observed.values())
    if total_cases < MIN_CASES_FOR_RATE:
        return [barometer.expected_response_rate] * len(frame.strata), "expected"
    overall = max(sum(d for _, d in observed.values()) / total_cases, 0.01)
    rates = []
    for stratum in frame.strata:
        cases, completes = observed.get(stratum.key, (0, 0))
        # A stratum with too few earlier cases takes the overall rate.
        rates.append(max(completes / cases, 0.01) if cases >= MIN_CASES_FOR_RATE else overall)
    return rates, "earlier_waves"


def size_sample(
    *, barometer: Barometer, frame: Frame, before: Wave
) -> tuple[survey_design.SamplePlan, dict[str, Any]]:
    """Each stratum's sample for the barometer's goal on this frame (not drawn), and what the wave
    records about it: the inputs (spread, response rate, where they came from) and the expected
    margins. The set-up page shows the same before anything is sent."""
    variance, variance_source, variance_n = _variance(barometer, before)
    rates, rate_source = _response_rates(barometer, frame)
    strata = [
        survey_design.StratumFrame(
            stratum=index, population=stratum.eligible, variance=variance, response_rate=rate
        )
        for index, (stratum, rate) in enumerate(zip(frame.strata, rates, strict=True))
    ]
    domains = {}
    if barometer.domain and barometer.domain_margin:
        attributes = {index: stratum.values for index, stratum in enumerate(frame.strata)}
        domains = survey_design.domains_of(attributes, barometer.domain, barometer.domain_margin)
    plan = survey_design.plan_sample(
        strata,
        overall_margin=barometer.margin,
        domains=domains,
        allocation="neyman" if barometer.allocation == Allocation.NEYMAN else "proportional",
        minimum_per_stratum=barometer.minimum_per_stratum or 2,
        confidence=barometer.confidence,
    )
    summary = {
        "allocation": barometer.allocation,
        "confidence": barometer.confidence,
        "goal": {
            "margin": barometer.margin,
            "domain": barometer.domain,
            "domain_margin": barometer.domain_margin,
        },
        "variance": variance,
        "variance_source": variance_source,
        "variance_answers": variance_n,
        "response_rate_source": rate_source,
        "sample_size": plan.sample_size,
        "expected_completes": plan.expected_completes,
        "expected_margin": plan.margin,
        "expected_domain_margins": plan.domain_margins,
    }
    return plan, summary


def plan_design(*, barometer: Barometer, frame: Frame, seed: int, before: Wave) -> Design:
    """Size each stratum's sample for the barometer's goal on this frame, and draw it."""
    plan, summary = size_sample(barometer=barometer, frame=frame, before=before)
    counts = [len(ids) for ids in frame.ids]
    draw = survey_design.stratified_draw(
        np.concatenate(frame.ids) if frame.ids else np.empty(0, dtype=np.int64),
        np.repeat(np.arange(len(counts)), counts),
        {row.stratum: row.sample for row in plan.strata},
        seed=seed,
    )
    plans = []
    for index, row in enumerate(plan.strata):
        plans.append(
            StratumPlan(
                sample_size=row.sample,
                target_completes=row.completes,
                inclusion_probability=row.inclusion_probability,
                sampled_ids=draw.ids[draw.strata == index],
            )
        )
    return Design(plans, summary)
