"""What a barometer's set-up would give if a wave were drawn today: the frame, the sample per stratum
and the expected margins, overall and per domain — shown on the set-up page before anything is sent.

Nothing is stored and nothing is drawn: the frame is the one a draw would take
(``services.frame_to_draw``), the sizes are the draw's own (``design.size_sample``), so what the
page promises is what the first wave records. A set-up the frame cannot serve (nobody in scope, a
stratum left empty, a goal the frame cannot meet, targets that do not describe it) gives the
reason instead of figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from avis.barometers.design import size_sample
from avis.barometers.models import Barometer, Wave
from avis.barometers.services import frame_to_draw
from avis.errors import ValidationFailed


@dataclass(frozen=True)
class StratumPreview:
    key: str
    values: dict[str, str]
    in_scope: int  # customers in scope, before governance's exclusions
    eligible: int  # N_h: those left to draw from
    sample: int  # customers to invite
    completes: int  # completes wanted (the stratum's quota)
    expected_completes: float
    inclusion_probability: float


@dataclass(frozen=True)
class DomainPreview:
    attribute: str
    value: str
    margin: float  # expected half-width, in points
    goal: float


@dataclass
class Preview:
    refusal: str = ""  # why no wave could be drawn from this set-up, in words
    on: date | None = None
    strata: list[StratumPreview] = field(default_factory=list)
    in_scope: int = 0
    eligible: int = 0
    exclusions: dict[str, int] = field(default_factory=dict)
    sample_size: int = 0
    expected_completes: float = 0.0
    margin: float = 0.0
    goal: float = 0.0
    domains: list[DomainPreview] = field(default_factory=list)
    variance_source: str = ""  # earlier_waves, transactional, worst_case
    variance_answers: int = 0
    response_rate_source: str = ""  # earlier_waves, expected


def preview_design(*, barometer: Barometer, on: date, now: datetime) -> Preview:
    """The design a wave drawn on ``on`` would have (``barometer`` may be unsaved: the set-up page's)."""
    try:
        frame = frame_to_draw(barometer=barometer, on=on, now=now)
        last = barometer.waves.order_by("-number").first() if barometer.pk else None
        upcoming = Wave(barometer=barometer, number=(last.number if last else 0) + 1, frame_date=on)
        plan, summary = size_sample(barometer=barometer, frame=frame, before=upcoming)
    except ValidationFailed as refused:
        return Preview(refusal=str(refused.message), on=on)
    strata = [
        StratumPreview(
            key=stratum.key,
            values=stratum.values,
            in_scope=stratum.in_scope,
            eligible=stratum.eligible,
            sample=row.sample,
            completes=row.completes,
            expected_completes=row.expected_completes,
            inclusion_probability=row.inclusion_probability,
        )
        for stratum, row in zip(frame.strata, plan.strata, strict=True)
    ]
    domains = []
    for name, margin in sorted(plan.domain_margins.items()):
        attribute, _, value = name.partition("=")
        domains.append(DomainPreview(attribute, value, margin, barometer.domain_margin or 0.0))
    return Preview(
        on=on,
        strata=strata,
        in_scope=frame.in_scope,
        eligible=frame.eligible,
        exclusions=frame.exclusions,
        sample_size=plan.sample_size,
        expected_completes=plan.expected_completes,
        margin=plan.margin,
        goal=barometer.margin,
        domains=domains,
        variance_source=summary["variance_source"],
        variance_answers=summary["variance_answers"],
        response_rate_source=summary["response_rate_source"],
    )
