"""Synthetic histories whose answer is known: strata of chosen sizes and score shares, day after day.

Shared by the precision tests and ``bench/precision.py``. A history is a
callable returning a fresh stream of ``HistoryRow`` (the simulator replays it
several times), generated a day at a time so a year of a million interactions
never sits in memory; the same seed gives the same rows every time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from avis.governance.history import HistoryRow
from avis.governance.simulation_assumptions import Assumptions

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Stratum:
    code: str  # the team or agent
    touchpoint: str
    per_month: float  # interactions in an average month (30.44 days)
    promoters: float
    detractors: float
    customers: int = 0  # distinct customers; 0: a new customer for each interaction


def history(
    strata: Sequence[Stratum], *, start: date, days: int, dimension: str = "team", seed: int = 1
) -> Callable[[], Iterator[HistoryRow]]:
    """Interactions of every stratum, Poisson-distributed day by day, in order of occurrence."""

    def rows() -> Iterator[HistoryRow]:
        rng = random.Random(seed)
        number = 0
        for offset in range(days):
            midnight = datetime.combine(start + timedelta(days=offset), datetime.min.time(), tzinfo=PARIS)
            today = []
            for stratum in strata:
                for _ in range(_poisson(rng, stratum.per_month * 12 / 365.25)):
                    customer = (
                        f"{stratum.code}-C{rng.randrange(stratum.customers)}"
                        if stratum.customers
                        else f"{stratum.code}-N{rng.getrandbits(48):x}"
                    )
                    today.append((rng.randrange(86_400), stratum, customer))
            today.sort(key=lambda item: item[0])
            for seconds, stratum, customer in today:
                number += 1
                yield HistoryRow(
                    key=f"S{seed}-{number:08d}",
                    touchpoint=stratum.touchpoint,
                    occurred_at=midnight + timedelta(seconds=seconds),
                    customer=customer,
                    team=stratum.code if dimension == "team" else "",
                    agent=stratum.code if dimension == "agent" else "",
                )

    return rows


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a rounded normal for large ones."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def assumptions(
    strata: Sequence[Stratum], *, dimension: str = "team", response_rate: float = 0.3
) -> Assumptions:
    """The score shares each stratum truly has, as the simulation is told them."""
    return Assumptions(
        response_rate=response_rate,
        stratum_scores={f"{dimension}:{s.code}": (s.promoters, s.detractors, 0.8) for s in strata},
    )


def as_csv(rows: Callable[[], Iterator[HistoryRow]]) -> str:
    """The history as the CSV file ``avis simulate`` and the simulation page read."""
    lines = ["external_id,touchpoint,occurred_at,customer_id,agent,team"]
    lines += [
        f"{r.key},{r.touchpoint},{r.occurred_at.isoformat()},{r.customer},{r.agent},{r.team}" for r in rows()
    ]
    return "\n".join(lines) + "\n"
