"""Precision-targeted sampling inside a simulation: each stratum's probability learnt as live learns it.

Live, ``refresh_sampling_rates`` recomputes every stratum's inclusion
probability from the last 90 days of decisions, invitations and answers. A
simulated side that samples toward goals does the same from its *own*
simulated past: at the first interaction of every day it recomputes each
stratum's probability (``precision.required_probability``, the live formula)
from the interactions it has decided in the 90 days before, the surveys it sent
and the answers those would bring (the response rate and score shares the
simulation assumes). A stratum it has never seen is asked in full until the
next day, as a new agent is live. So the simulation shows what goal-driven
sampling would have done over the history, learning included, and not what
today's rates would have done.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from avis.governance.engine import Rules
from avis.governance.history import HistoryRow
from avis.governance.precision import StratumObservation, goal_terms, required_probability
from avis.governance.simulation import Goal

OBSERVATION_DAYS = 90
DAY = 86_400
# Reasons of decisions that got as far as the draw, as live precision counts them (surveys.queries).
REACHED_DRAW = frozenset({"eligible", "quiet_hours", "not_sampled", "stale", "outranked"})


class _Window:
    """A stratum's last 90 days, one bucket a day: interactions, reached the draw, surveys, completes."""

    __slots__ = ("buckets", "totals")

    def __init__(self) -> None:
        self.buckets: deque[list[float]] = deque()  # [day, interactions, reached, surveys, completes]
        self.totals = [0.0, 0.0, 0.0, 0.0]

    def add(self, day: int, reached: bool, surveyed: bool, completes: float) -> None:
        if not self.buckets or self.buckets[-1][0] != day:
            self.buckets.append([day, 0.0, 0.0, 0.0, 0.0])
        values = (1.0, float(reached), float(surveyed), completes if surveyed else 0.0)
        bucket = self.buckets[-1]
        for slot, value in enumerate(values):
            bucket[slot + 1] += value
            self.totals[slot] += value

    def forget_before(self, day: int) -> None:
        while self.buckets and self.buckets[0][0] < day:
            old = self.buckets.popleft()
            for slot in range(4):
                self.totals[slot] -= old[slot + 1]


class GoalSampler:
    """One simulated side's precision-targeted sampling toward ``goals``.

    ``scores(goal, stratum)`` gives the shares of top and bottom answers the
    simulation assumes for a stratum (promoters and detractors for NPS; the
    satisfied share and 0 for a proportion).
    """

    def __init__(
        self,
        goals: Sequence[Goal],
        *,
        scores: Callable[[Goal, str], tuple[float, float]],
        default_response_rate: float = 0.3,
    ) -> None:
        self.goals = list(goals)
        self.scores = scores
        self.default_response_rate = default_response_rate
        self.rates: dict[tuple[int, str], float] = {}
        self.windows: dict[tuple[int, str], _Window] = {}
        self.first_day: int | None = None
        self.today: int | None = None

    def probability(self, rules: Rules, row: HistoryRow) -> tuple[float, dict[str, Any]]:
        day = int(row.occurred_at.timestamp() // DAY)
        if day != self.today:
            self._recompute(day)
        best: tuple[float, dict[str, Any]] | None = None
        for number, goal in enumerate(self.goals):
            stratum = goal.stratum(row)
            if stratum is None:
                continue
            # A stratum not yet measured is surveyed in full until the next computation.
            rate = self.rates.get((number, stratum), 1.0)
            if best is None or rate > best[0]:
                best = (rate, {"goal": number, "stratum": stratum, "dimension": goal.dimension})
        return best if best is not None else (rules.sampling_rate(row.touchpoint), {})

    def observe(self, row: HistoryRow, reason: str, surveyed: bool, completes: float) -> None:
        if row.contact_only:
            return
        day = int(row.occurred_at.timestamp() // DAY)
        if self.first_day is None:
            self.first_day = day
        for number, goal in enumerate(self.goals):
            stratum = goal.stratum(row)
            if stratum is not None:
                window = self.windows.get((number, stratum))
                if window is None:
                    window = self.windows[number, stratum] = _Window()
                window.add(day, reason in REACHED_DRAW, surveyed, completes)

    def _recompute(self, day: int) -> None:
        """What the hourly refresh would have set at the start of this day."""
        self.today = day
        if self.first_day is None:
            return
        days = max(1.0, min(float(OBSERVATION_DAYS), float(day - self.first_day)))
        at = datetime.fromtimestamp(day * DAY, tz=UTC)
        for number, goal in enumerate(self.goals):
            windows = [(key[1], w) for key, w in self.windows.items() if key[0] == number]
            for _stratum, window in windows:
                window.forget_before(day - OBSERVATION_DAYS)
            surveys = sum(w.totals[2] for _, w in windows)
            overall = (
                sum(w.totals[3] for _, w in windows) / surveys if surveys else self.default_response_rate
            )
            terms = goal_terms(goal, at=at)
            for stratum, window in windows:
                interactions, reached, surveyed, completes = window.totals
                answers = round(completes)
                top, bottom = self.scores(goal, stratum)
                need = required_probability(
                    goal=terms,
                    observed=StratumObservation(
                        stratum=stratum,
                        days=days,
                        interactions=round(interactions),
                        reached_draw=round(reached),
                        invitations=round(surveyed),
                        responses=answers,
                        answers=answers,
                        top=round(answers * top),
                        bottom=round(answers * bottom),
                        organisation_response_rate=overall,
                    ),
                )
                self.rates[number, stratum] = need.probability
