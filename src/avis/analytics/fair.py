"""Fair views of agents and teams: agent-attributed answers only, funnel limits, shrinkage, no league.

An agent is judged only on the questions about the agent, "not applicable /
not their doing" left out (the roll-ups' ``agent_*`` columns); nobody with
fewer answers than the organisation's minimum is flagged or ranked; each
figure is shown raw and pulled toward the group mean by empirical Bayes; the
funnel plot's 95 % and 99.8 % limits say who is really apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from avis.accounts.models import Organisation
from avis.analytics.fairness import Funnel, Shrinkage, UnitRate, flag_outliers, funnel_limits, shrink
from avis.analytics.queries import Filters, analytics_settings, labels_of, statistics
from avis.interactions.models import Agent, Team

Level = Literal["agent", "team"]
LEVELS = (0.95, 0.998)


@dataclass(frozen=True)
class FairUnit:
    key: str
    name: str
    n: int
    not_applicable: int
    raw: float | None
    shrunk: float | None
    shrunk_low: float | None
    shrunk_high: float | None
    status: str  # below | within | above | not_ranked  (at 99.8 %)
    warning: str  # below | within | above | not_ranked  (at 95 %)


@dataclass(frozen=True)
class FairView:
    level: Level
    min_n: int
    target: float | None
    method: str
    units: list[FairUnit]
    funnel_n: list[int]
    limits: dict[float, tuple[list[float], list[float]]]


def fair_view(
    *, organisation: Organisation, level: Level = "agent", filters: Filters | None = None
) -> FairView:
    """Each agent's (or team's) share of top-2-box agent scores over the window, fairly presented."""
    rows = statistics(organisation=organisation, period="all", group_by=[level], filters=filters)
    min_n = analytics_settings(organisation=organisation).min_n
    labels = labels_of(organisation=organisation)
    model = Agent if level == "agent" else Team
    names = dict(model.objects.filter(organisation=organisation).values_list("id", "name"))
    rows = [r for r in rows if r[level] and (r["agent_n"] or r["agent_na"])]
    units = [UnitRate(labels.of(level, r[level]), r["agent_top2"], r["agent_n"]) for r in rows]
    if not any(u.n for u in units):
        return FairView(level, min_n, None, "", [], [], {})
    outer = flag_outliers(units, level=0.998, min_n=min_n)
    inner = flag_outliers(units, level=0.95, min_n=min_n)
    shrunk: Shrinkage = shrink(units, min_n=min_n)
    fair_units = [
        FairUnit(
            key=u.key,
            name=f"{names[r[level]]} ({u.key})" if names.get(r[level]) else u.key,
            n=u.n,
            not_applicable=r["agent_na"],
            raw=p.value,
            shrunk=s.value if u.n else None,
            shrunk_low=s.ci_low if u.n else None,
            shrunk_high=s.ci_high if u.n else None,
            status=p.status,
            warning=w.status,
        )
        for u, r, p, w, s in zip(units, rows, outer.points, inner.points, shrunk.units, strict=True)
    ]
    return FairView(
        level,
        min_n,
        outer.target,
        f"{outer.method}; {shrunk.method}",
        # Alphabetical, never by score: this is not a league table.
        sorted(fair_units, key=lambda u: u.name.lower()),
        *_funnel_curve(outer, min(u.n for u in units if u.n), max(u.n for u in units)),
    )


def _funnel_curve(
    funnel: Funnel, smallest: int, largest: int
) -> tuple[list[int], dict[float, tuple[list[float], list[float]]]]:
    """The limits over the units' own range of n (a little either side): the plot's x axis is
    scaled to the data, so agents with 90 to 210 answers are not squeezed into a 1-1,000 axis."""
    low = max(1, int(smallest * 0.9))
    grid = np.unique(np.geomspace(low, max(largest * 1.1, low + 10), 60).astype(int))
    limits = funnel_limits(funnel.target, grid, LEVELS)
    return [int(n) for n in grid], {
        lvl: (list(map(float, lo)), list(map(float, hi))) for lvl, (lo, hi) in limits.items()
    }
