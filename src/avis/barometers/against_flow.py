"""The barometer against the flow: for the same period, a wave's design-based NPS and satisfaction
beside the transactional ones (``analytics.weighted``: design weights from governance's sampling,
raked to the period's interactions), overall, per touchpoint and per region, with the difference
and its interval.

The two sides do not measure the same thing. The barometer asks a random sample of the whole
customer base about the relationship; the flow asks customers right after a contact about that
contact (and only those who had one). A gap between them is the critique's question, in numbers.
The barometer's own answers are left out of the flow's side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from django.utils import timezone

from avis.analytics.comparison import Difference
from avis.analytics.estimators import WeightedEstimate
from avis.analytics.survey_design import DesignEstimate, wave_difference
from avis.analytics.weighted import weighted_overview
from avis.barometers.models import Wave
from avis.barometers.results import wave_results
from avis.surveys.models import QuestionKind

METRICS = (("nps", QuestionKind.NPS), ("csat", QuestionKind.CSAT))


@dataclass(frozen=True)
class Side:
    label: str  # a touchpoint code, a region value, or "" for everybody
    barometer: DesignEstimate | None
    flow: WeightedEstimate | None
    difference: Difference | None  # barometer − flow


@dataclass
class MetricComparison:
    metric: str  # nps, csat
    percent: bool
    overall: Side | None = None
    touchpoints: list[Side] = field(default_factory=list)
    regions: list[Side] = field(default_factory=list)
    not_raked: str = ""


@dataclass
class AgainstFlow:
    wave: Wave
    since: datetime
    until: datetime
    region: str  # the attribute compared region by region
    metrics: list[MetricComparison] = field(default_factory=list)


def _side(label: str, barometer: DesignEstimate | None, flow: WeightedEstimate | None, scale: float) -> Side:
    difference = None
    if barometer is not None and flow is not None and barometer.value is not None and flow.value is not None:
        # Two independent samples: the variances add (``wave_difference`` reads value, se and n).
        found = wave_difference(flow, barometer)  # type: ignore[arg-type]
        difference = Difference(
            *(None if v is None else v * scale for v in (found.value, found.ci_low, found.ci_high)),
            found.p_value,
            found.n_a,
            found.n_b,
            "difference of two independent samples (z)",
        )
    return Side(label, barometer, flow, difference)


def against_flow(*, wave: Wave, now: datetime | None = None) -> AgainstFlow:
    """The wave's figures beside the flow's over the barometer's period ending with the fieldwork."""
    barometer = wave.barometer
    zone = timezone.get_current_timezone()
    start = barometer.period_start(wave.frame_date)
    since = datetime.combine(start, time(0), tzinfo=zone)
    until = wave.fieldwork_ends_at or now or timezone.now()
    attributes = barometer.stratum_attributes
    region = barometer.domain or ("region" if "region" in attributes else next(iter(attributes), ""))
    results = wave_results(wave=wave, now=now)
    found = AgainstFlow(wave, since, until, region)
    for metric, kind in METRICS:
        figure = next((f for f in results.figures if f.question.kind == kind), None)
        flow = weighted_overview(
            organisation=wave.organisation,
            metric=metric,  # type: ignore[arg-type]
            since=since,
            until=until,
            exclude_touchpoints=[barometer.survey.touchpoint_id],
            by_attribute=region,
        )
        # The barometer's satisfaction is a share (0–1); the flow's too: differences in points.
        scale = 100.0 if metric == "csat" else 1.0
        comparison = MetricComparison(metric, metric == "csat", not_raked=flow.not_raked)
        overall_flow = next((f.estimate for f in flow.figures if f.touchpoint == ""), None)
        ours = figure.overall if figure else None
        if ours is None and overall_flow is None:
            continue
        comparison.overall = _side("", ours, overall_flow, scale)
        comparison.touchpoints = [
            _side(f.touchpoint, ours, f.estimate, scale) for f in flow.figures if f.touchpoint
        ]
        domains = figure.domains.get(region, {}) if figure else {}
        labels = sorted({str(v) for v in domains} | set(flow.groups) - {"—"})
        by_label = {str(k): v for k, v in domains.items()}
        comparison.regions = [_side(v, by_label.get(v), flow.groups.get(v), scale) for v in labels]
        found.metrics.append(comparison)
    return found
