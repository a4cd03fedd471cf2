"""What it would take: the cheapest fixed rates that meet a precision goal, and the policy changes that would.

A side replayed at fixed rates of 1.0 keeps every interaction that reached
the sampling draw, with its draw (fixed by the interaction, as live), its
expected completes and its strata-periods (``PolicyTally.drawable``). Because
the draw is the same number whatever the rate, the interactions a rate p of
touchpoint t would draw are exactly those of t with a draw below p: the
completes of every stratum-period under any rates per touchpoint are counted
without a replay. Only the contact pressure changes with the rates (asking
fewer people leaves more of them within the caps, which adds eligible
interactions), so ``cheapest_rates`` is a guess that the simulator then checks
by replaying it, and refines from what that replay saw.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from math import ceil

from django.utils.translation import gettext as _

from avis.governance.engine import Rules, Window
from avis.governance.simulation import Drawable

Cell = tuple[int, str, str]  # goal index, stratum, period


@dataclass
class DrawModel:
    """Completes of every stratum-period and invitations, as functions of one rate per touchpoint."""

    draws: dict[str, list[float]]  # touchpoint → sorted draws of everything that reached the draw
    cells: dict[Cell, dict[str, tuple[list[float], list[float]]]]  # → touchpoint → draws, running completes

    @classmethod
    def of(cls, drawable: Mapping[str, Sequence[Drawable]], wanted: set[Cell]) -> DrawModel:
        draws = {touchpoint: sorted(d for d, _c, _k in rows) for touchpoint, rows in drawable.items()}
        per_cell: dict[Cell, dict[str, list[tuple[float, float]]]] = {}
        for touchpoint, rows in drawable.items():
            for draw, completes, cells in rows:
                for cell in cells:
                    if cell in wanted:
                        per_cell.setdefault(cell, {}).setdefault(touchpoint, []).append((draw, completes))
        cells = {}
        for cell, by_touchpoint in per_cell.items():
            cells[cell] = {}
            for touchpoint, pairs in by_touchpoint.items():
                pairs.sort()
                cells[cell][touchpoint] = ([d for d, _ in pairs], list(accumulate(c for _, c in pairs)))
        return cls(draws, cells)

    def completes(self, cell: Cell, rates: Mapping[str, float]) -> float:
        total = 0.0
        for touchpoint, (draws, running) in self.cells.get(cell, {}).items():
            drawn = bisect_left(draws, rates.get(touchpoint, 1.0))
            total += running[drawn - 1] if drawn else 0.0
        return total

    def invitations(self, rates: Mapping[str, float]) -> int:
        return sum(bisect_left(draws, rates.get(t, 1.0)) for t, draws in self.draws.items())

    @property
    def touchpoints(self) -> list[str]:
        """Touchpoints that feed some stratum of a goal, the busiest first."""
        used = {t for by_touchpoint in self.cells.values() for t in by_touchpoint}
        return sorted(used, key=lambda t: (-len(self.draws.get(t, ())), t))


def cheapest_rates(
    model: DrawModel, *, needed: Mapping[Cell, int], targets: Mapping[int, int]
) -> dict[str, float] | None:
    """The fewest invitations, one rate per touchpoint, meeting each goal in ``targets[goal]`` cells.

    ``needed`` holds, for every complete stratum-period, the completes its goal
    needs. First the single rate for every touchpoint (the smallest that meets
    the targets: the count of cells met only grows with the rate), then each
    touchpoint lowered in turn as far as the targets allow, the busiest first,
    twice round. None when asking everyone would not meet the targets.
    """
    touchpoints = model.touchpoints

    def meets(rates: Mapping[str, float]) -> bool:
        met: dict[int, int] = dict.fromkeys(targets, 0)
        for cell, need in needed.items():
            if model.completes(cell, rates) + 1e-9 >= need:
                met[cell[0]] = met.get(cell[0], 0) + 1
        return all(met.get(goal, 0) >= target for goal, target in targets.items())

    def lowest(low: float, high: float, rates_at: Callable[[float], dict[str, float]]) -> float:
        for _step in range(20):
            middle = (low + high) / 2
            if meets(rates_at(middle)):
                high = middle
            else:
                low = middle
        return high

    if not touchpoints or not meets(dict.fromkeys(touchpoints, 1.0)):
        return None
    single = lowest(0.0, 1.0, lambda p: dict.fromkeys(touchpoints, p))
    rates = dict.fromkeys(touchpoints, single)
    for _round in range(2):
        for touchpoint in touchpoints:
            rates[touchpoint] = lowest(0.0, rates[touchpoint], lambda p, t=touchpoint: rates | {t: p})
    # Rounded up to a tenth of a percent: a rate an analyst can type, never below what was found.
    return {t: min(1.0, ceil(rate * 1000 - 1e-9) / 1000) for t, rate in rates.items()}


@dataclass(frozen=True)
class Relaxation:
    """A change to the policy's pressure rules that lets more customers be asked."""

    code: str
    rules: Rules

    def describe(self) -> str:
        windows = ", ".join(
            _("%(max)s in %(days)s days") % {"max": w.max, "days": w.days} for w in self.rules.windows
        )
        return {
            "one_more": _("one more survey in each window (%(windows)s)") % {"windows": windows},
            "shorter_quarantine": _("a quarantine of %(days)s days") % {"days": self.rules.quarantine_days},
            "both": _("no quarantine and twice the surveys in each window (%(windows)s)")
            % {"windows": windows},
        }[self.code]


def relaxations(rules: Rules) -> list[Relaxation]:
    """Looser caps, a shorter quarantine, and both at once: the changes an analyst would try first."""
    more = tuple(Window(w.max + 1, w.days) for w in rules.windows)
    found = [Relaxation("one_more", replace(rules, windows=more))]
    if rules.quarantine_days > 1:
        found.append(
            Relaxation("shorter_quarantine", replace(rules, quarantine_days=rules.quarantine_days // 2))
        )
    double = tuple(Window(w.max * 2, w.days) for w in rules.windows)
    found.append(Relaxation("both", replace(rules, windows=double, quarantine_days=0)))
    return found
