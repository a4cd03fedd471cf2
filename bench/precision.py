"""Precision-targeted sampling against the cheapest fixed rates reaching the same precision (issue 19).

A synthetic year of interactions (1,000,000 by default) handled by 200 agents
spread over four touchpoints, of very uneven workload (log-normal, from a few
to a few thousand interactions a month, median about 250) and uneven answers
(from 85 % promoters to a 45/35 split); each customer comes back about twice a
year, under at most 4 surveys a year and a week's quarantine. The goal: NPS per
agent per month within ±20 points, 30 % of surveys answered.

Both sides go through the real simulator (``run_simulation``): goal-driven
sampling learns each agent's probability day by day from its own simulated
past, as live does; the simulator then searches the cheapest fixed rates, one
per touchpoint, that meet the goal in as many complete agent-months, and
replays them to check. The ratio is the invitations of goal-driven sampling
over those of the cheapest fixed rates (goal ≤ 0.7: at least 30 % fewer
customers asked for the same precision).

    .venv/bin/python bench/precision.py [--n 1000000] [--agents 200] [--margin 20]

A smaller run keeps the agents' workloads: --n 200000 --agents 40.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.7
TOUCHPOINTS = ("call_center.call", "web.chat", "branch.visit", "claim.settled")
PROFILES = [(0.85, 0.03), (0.70, 0.10), (0.55, 0.20), (0.45, 0.35)]  # promoters, detractors
POLICY = {
    "windows": [{"max": 4, "days": 365}],
    "quarantine_days": 7,
    "send_from": "09:00",
    "send_until": "20:00",
    "freshness_hours": 48,
}


def strata(n: int, agents: int, *, seed: int = 2026) -> list:  # noqa: ANN401 - tests' Stratum
    from tests.governance.synthetic import Stratum

    rng = random.Random(seed)
    weights = [math.exp(rng.gauss(0, 1.0)) for _ in range(agents)]
    per_month = n / 12 / sum(weights)
    found = []
    for number, weight in enumerate(weights):
        promoters, detractors = rng.choice(PROFILES)
        volume = weight * per_month
        found.append(
            Stratum(
                f"A-{number:03d}",
                TOUCHPOINTS[number % len(TOUCHPOINTS)],
                volume,
                promoters,
                detractors,
                customers=max(5, round(volume * 6)),  # each customer back about twice a year
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="interactions over the year")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--margin", type=float, default=20)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avis.settings")
    os.environ["AVIS_VAR_DIR"] = tempfile.mkdtemp(prefix="avis-bench-precision-")
    os.environ.setdefault("AVIS_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from tests.governance.synthetic import assumptions, history

    from avis.governance.simulation_run import run_simulation

    found = strata(args.n, args.agents)
    volumes = sorted(s.per_month for s in found)
    print(
        f"{args.agents} agents over {len(TOUCHPOINTS)} touchpoints, {args.n:,} interactions a year; "
        f"per agent and month: min {volumes[0]:,.0f}, median {volumes[len(volumes) // 2]:,.0f}, "
        f"max {volumes[-1]:,.0f}",
        flush=True,
    )
    goal = {"metric": "nps", "dimension": "agent", "period": "month", "margin": args.margin}

    def progress(done: int) -> None:
        if done % 250_000 == 0:
            print(f"  … {done:,} interactions replayed", flush=True)

    started = time.perf_counter()
    report = run_simulation(
        history=history(found, start=date(2025, 1, 1), days=365, dimension="agent", seed=19),
        policies=[{"policy": POLICY, "strategy": "goals"}, {"policy": POLICY, "strategy": "cheapest"}],
        goals=[goal],
        assumptions=assumptions(found, dimension="agent"),
        explain=False,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    if report.cheapest is None or report.cheapest.rates is None:
        sys.exit("no fixed rate meets the goal as often: nothing to compare")
    driven, cheapest = report.policies
    (outcome,) = driven.goals
    (fixed_outcome,) = cheapest.goals
    print(f"{report.interactions:,} interactions, {report.customers:,} customers, {seconds:,.0f} s in all")
    print(f"  replays: {report.cheapest.replays} (goal-driven and everyone together, then each fixed try)")
    for side, result in ((driven, outcome), (cheapest, fixed_outcome)):
        print(
            f"  {side.name}: {side.surveys:,} invitations, {side.surveyed:,} customers asked, "
            f"{result.verdict} (median ±{result.median_half_width:.1f})"
        )
    if report.cheapest.targets != report.cheapest.reference_met:
        print(
            f"  no fixed rate meets the goal in {report.cheapest.reference_met[0]} agent-months: asking "
            f"everyone the policy allows reaches {report.cheapest.targets[0]} (the caps take more "
            "customers), so the fixed rates are held to that: goal-driven sampling is the more precise side"
        )
    if cheapest.rates:
        rates = ", ".join(
            f"{code} {rate:.1%}" for code, rate in sorted(cheapest.rates.items()) if code != "*"
        )
        print(f"  cheapest fixed rates: {rates}")
    saving = driven.saving
    if saving is not None:
        print(
            f"  goal-driven against them: {saving.invitations:+,} invitations, "
            f"{saving.customers_left_alone:+,} customers left alone"
        )
    print(f"ratio: {driven.surveys / cheapest.surveys:.2f} (goal ≤ {GOAL})")


if __name__ == "__main__":
    main()
