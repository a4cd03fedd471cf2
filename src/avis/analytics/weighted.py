"""Weighted figures: design weights from governance's sampling, raked to the interactions' margins.

Each answer stands for 1/π interactions, π being the inclusion probability
governance recorded on its decision (Horvitz–Thompson). Raking then corrects
non-response: the weighted answers are made to match the window's interactions
on touchpoint, team/site and channel (``weighting.rake``). For NPS, CSAT
top-2-box and the resolution rate, the pages and the API show the weighted
figure beside the unweighted one with Kish's design effect and effective sample
size, so the reader sees what weighting changed and what it cost in precision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

import numpy as np
from django.db.models import Q
from numpy.typing import NDArray

from avis.accounts.models import Organisation
from avis.analytics.estimators import WeightedEstimate, weighted_nps, weighted_proportion
from avis.analytics.rollups import CSAT_ANSWERS, NPS_ANSWERS, RESOLUTION_ANSWERS, TOP_TWO
from avis.analytics.weighting import RakingFailed, design_weights, rake
from avis.errors import ValidationFailed
from avis.governance.models import Decision
from avis.interactions.models import Touchpoint
from avis.surveys.models import Answer

NONE = "—"  # the category of answers without a team or channel
MARGINS = ("touchpoint", "team", "channel")


WeightedMetric = Literal["nps", "csat", "resolution_rate"]
WEIGHTED_METRICS: tuple[WeightedMetric, ...] = get_args(WeightedMetric)


@dataclass(frozen=True)
class _Measure:
    """Which answers a weighted metric reads, and its estimator over their values and weights."""

    answers: Q
    estimator: Callable[[NDArray[np.float64], NDArray[np.float64]], WeightedEstimate]
    value: Callable[[int | None, str], float]


_MEASURES: dict[str, _Measure] = {
    "nps": _Measure(NPS_ANSWERS, weighted_nps, lambda number, choice: float(number or 0)),
    "csat": _Measure(
        CSAT_ANSWERS, weighted_proportion, lambda number, choice: float((number or 0) >= TOP_TWO)
    ),
    "resolution_rate": _Measure(
        RESOLUTION_ANSWERS, weighted_proportion, lambda number, choice: float(choice == "yes")
    ),
}


@dataclass(frozen=True)
class WeightedFigure:
    touchpoint: str  # "" for all touchpoints together
    estimate: WeightedEstimate


@dataclass(frozen=True)
class WeightedOverview:
    metric: str
    figures: list[WeightedFigure]
    margins: tuple[str, ...]
    dropped: list[str]  # population categories without any answer, left out of the raking
    not_raked: str = ""  # why raking failed; the figures then carry the design weights only
    # With ``by_attribute``: the figure per value of that customer attribute (same weights).
    groups: dict[str, WeightedEstimate] = field(default_factory=dict)
    # ``dropped`` as (dimension, value) pairs — a touchpoint by its code, a team by its code — for
    # the pages to name them in words.
    left_out: list[tuple[str, str]] = field(default_factory=list)


def _population_shares(
    organisation: Organisation,
    since: datetime | None,
    until: datetime | None,
    exclude_touchpoints: Sequence[int] = (),
) -> dict[str, Counter]:
    """The window's interactions (those governance decided on) by touchpoint, team and channel."""
    decisions = Decision.objects.filter(organisation=organisation).exclude(
        touchpoint_id__in=list(exclude_touchpoints)
    )
    if since:
        decisions = decisions.filter(interaction__occurred_at__gte=since)
    if until:
        decisions = decisions.filter(interaction__occurred_at__lt=until)
    margins: dict[str, Counter] = {name: Counter() for name in MARGINS}
    rows = decisions.values_list("touchpoint_id", "interaction__team_id", "channel")
    for touchpoint, team, channel in rows.iterator(chunk_size=5000):
        margins["touchpoint"][touchpoint] += 1
        margins["team"][team or NONE] += 1
        if channel:  # a skipped interaction has no channel: the channel margin counts the contactable
            margins["channel"][channel] += 1
    return margins


def weighted_overview(
    *,
    organisation: Organisation,
    metric: WeightedMetric = "nps",
    since: datetime | None = None,
    until: datetime | None = None,
    exclude_touchpoints: Sequence[int] = (),
    by_attribute: str = "",
) -> WeightedOverview:
    """NPS, CSAT top-2-box or resolution rate, weighted and unweighted, overall and per touchpoint.

    Each metric is raked on its own answers: who answered the CSAT question is not quite who
    answered the NPS one, so each set is made to match the same interactions.
    """
    if metric not in _MEASURES:
        raise ValidationFailed(f"no weighted figure for {metric}", field="metric")
    measure = _MEASURES[metric]
    answers = Answer.objects.filter(measure.answers, organisation=organisation).exclude(
        touchpoint_id__in=list(exclude_touchpoints)
    )
    if since:
        answers = answers.filter(answered_at__gte=since)
    if until:
        answers = answers.filter(answered_at__lt=until)
    rows = list(
        answers.values_list(
            "number",
            "choice",
            "touchpoint_id",
            "team_id",
            "response__channel",
            "response__invitation__decision__inclusion_probability",
            *([f"response__customer__attributes__{by_attribute}"] if by_attribute else []),
        )
    )
    codes = dict(Touchpoint.objects.filter(organisation=organisation).values_list("id", "code"))
    if not rows:
        return WeightedOverview(metric, [], MARGINS, [])
    values = np.array([measure.value(r[0], r[1]) for r in rows], dtype=float)
    sample: dict[str, list[Hashable]] = {
        "touchpoint": [r[2] for r in rows],
        "team": [r[3] or NONE for r in rows],
        "channel": [r[4] or NONE for r in rows],
    }
    base = design_weights([r[5] if r[5] else 1.0 for r in rows])
    population = _population_shares(organisation, since, until, exclude_touchpoints)
    margins: dict = {}
    left_out: list[tuple[str, str]] = []
    for name in MARGINS:
        present = set(sample[name])
        kept = {k: v for k, v in population[name].items() if k in present}
        left_out += [
            (name, str(codes.get(k, k) if name == "touchpoint" else k))
            for k in population[name]
            if k not in present
        ]
        total = sum(kept.values())
        # A category answers came from but the population margin lacks (no decision in the window)
        # cannot be raked to: leave that margin out rather than invent its size.
        if total and present <= set(kept):
            margins[name] = {k: v / total for k, v in kept.items()}
    not_raked = ""
    try:
        weights = rake({k: sample[k] for k in margins}, margins, base) if margins else base
    except RakingFailed as failure:
        # A window whose answers cannot match its interactions (a small month, a lone team) still
        # has figures: weighted by the sampling design only, and saying so, rather than none.
        weights, margins, not_raked = base, {}, str(failure)
    touchpoints = np.array(sample["touchpoint"])
    figures = [WeightedFigure("", measure.estimator(values, weights))]
    for touchpoint in sorted(set(sample["touchpoint"]), key=lambda t: codes.get(t, "")):
        mask = touchpoints == touchpoint
        figures.append(
            WeightedFigure(codes.get(touchpoint, ""), measure.estimator(values[mask], weights[mask]))
        )
    groups = {}
    if by_attribute:
        labels = np.array([str(r[6]).strip() if r[6] not in (None, "") else NONE for r in rows])
        for label in sorted(set(labels)):
            mask = labels == label
            groups[label] = measure.estimator(values[mask], weights[mask])
    left_out.sort()
    dropped = [f"{name} {value}" for name, value in left_out]
    return WeightedOverview(metric, figures, tuple(margins), dropped, not_raked, groups, left_out)
