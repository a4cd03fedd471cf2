"""Weighted figures: design weights from governance's sampling, raked to the interactions' margins.

Each answer stands for 1/π interactions, π being the inclusion probability
governance recorded on its decision (Horvitz–Thompson). Raking then corrects
non-response: the weighted answers are made to match the window's interactions
on touchpoint, team/site and channel (``weighting.rake``). The page shows the
weighted figure beside the unweighted one with Kish's design effect and
effective sample size, so the reader sees what weighting changed and what it
cost in precision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from avis.accounts.models import Organisation
from avis.analytics.estimators import WeightedEstimate, weighted_nps
from avis.analytics.weighting import design_weights, rake
from avis.governance.models import Decision
from avis.interactions.models import Touchpoint
from avis.surveys.models import Answer, QuestionKind

NONE = "—"  # the category of answers without a team or channel
MARGINS = ("touchpoint", "team", "channel")


@dataclass(frozen=True)
class WeightedFigure:
    touchpoint: str  # "" for all touchpoints together
    estimate: WeightedEstimate


@dataclass(frozen=True)
class WeightedOverview:
    figures: list[WeightedFigure]
    margins: tuple[str, ...]
    dropped: list[str]  # population categories without any answer, left out of the raking


def _population_shares(
    organisation: Organisation, since: datetime | None, until: datetime | None
) -> dict[str, Counter]:
    """The window's interactions (those governance decided on) by touchpoint, team and channel."""
    decisions = Decision.objects.filter(organisation=organisation)
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


def weighted_nps_overview(
    *, organisation: Organisation, since: datetime | None = None, until: datetime | None = None
) -> WeightedOverview:
    """NPS weighted and unweighted, overall and per touchpoint, over the window."""
    answers = Answer.objects.filter(organisation=organisation, kind=QuestionKind.NPS, not_applicable=False)
    if since:
        answers = answers.filter(answered_at__gte=since)
    if until:
        answers = answers.filter(answered_at__lt=until)
    rows = list(
        answers.values_list(
            "number",
            "touchpoint_id",
            "team_id",
            "response__channel",
            "response__invitation__decision__inclusion_probability",
        )
    )
    codes = dict(Touchpoint.objects.filter(organisation=organisation).values_list("id", "code"))
    if not rows:
        return WeightedOverview([], MARGINS, [])
    scores = np.array([r[0] for r in rows], dtype=float)
    sample: dict[str, list[Hashable]] = {
        "touchpoint": [r[1] for r in rows],
        "team": [r[2] or NONE for r in rows],
        "channel": [r[3] or NONE for r in rows],
    }
    base = design_weights([r[4] if r[4] else 1.0 for r in rows])
    population = _population_shares(organisation, since, until)
    margins, dropped = {}, []
    for name in MARGINS:
        present = set(sample[name])
        kept = {k: v for k, v in population[name].items() if k in present}
        dropped += [
            f"{name} {codes.get(k, k) if name == 'touchpoint' else k}"
            for k in population[name]
            if k not in present
        ]
        total = sum(kept.values())
        # A category answers came from but the population margin lacks (no decision in the window)
        # cannot be raked to: leave that margin out rather than invent its size.
        if total and present <= set(kept):
            margins[name] = {k: v / total for k, v in kept.items()}
    weights = rake({k: sample[k] for k in margins}, margins, base) if margins else base
    touchpoints = np.array(sample["touchpoint"])
    figures = [WeightedFigure("", weighted_nps(scores, weights))]
    for touchpoint in sorted(set(sample["touchpoint"]), key=lambda t: codes.get(t, "")):
        mask = touchpoints == touchpoint
        figures.append(WeightedFigure(codes.get(touchpoint, ""), weighted_nps(scores[mask], weights[mask])))
    return WeightedOverview(figures, tuple(margins), sorted(dropped))
