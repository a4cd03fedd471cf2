"""Policy simulation of 1,000,000 interactions over a year against 100,000: time and peak memory.

The simulator keeps one small state per customer and streams the history, so
its time must grow linearly with the interactions (time for 1M over time for
100k ≤ 12) and its memory with the customers only, never with the
interactions.

The parent writes each history (a CSV over one year, ~0.3 customers per
interaction, a few agents and teams, some contact-only rows and attributes);
each size is then simulated in its own child process, timed from opening the
file to the finished report (``avis simulate``'s path: reading, replay under
the policy with its precision goal, summary), and the child's peak resident
memory is read from ``getrusage``.

    .venv/bin/python bench/simulate.py [--n 1000000] [--baseline 100000] [--policies 1|2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 12
CUSTOMER_SHARE = 0.3
TOUCHPOINTS = [("call_center.call", 0.6), ("branch.visit", 0.25), ("claim.settled", 0.15)]
POLICY = {
    "windows": [{"max": 1, "days": 30}, {"max": 4, "days": 365}],
    "quarantine_days": 14,
    "touchpoint_gaps": {"branch.visit": 60},
    "priorities": {"claim.settled": 10},
    "exclusions": [{"attribute": "employee", "operator": "is_true"}],
    "freshness_hours": 48,
    "goals": [{"metric": "nps", "dimension": "agent", "period": "month", "margin": 10}],
}
LOOSER = {**POLICY, "windows": [{"max": 2, "days": 90}], "default_sampling_rate": 0.5}


def write_history(path: Path, n: int, *, seed: int = 20260301) -> None:
    """``n`` interactions over 2025, oldest first."""
    rng = random.Random(seed)
    customers = max(1, int(n * CUSTOMER_SHARE))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    moments = sorted(rng.uniform(0, 365 * 86400) for _ in range(n))
    codes, weights = zip(*TOUCHPOINTS, strict=True)
    agents = max(1, n // 2000)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["external_id", "touchpoint", "occurred_at", "customer_id", "agent", "team", "email", "phone",
             "contact_only", "employee"]
        )  # fmt: skip
        for number, seconds in enumerate(moments):
            customer = rng.randrange(customers)
            agent = rng.randrange(agents)
            writer.writerow(
                [
                    f"EV-{number:08d}",
                    rng.choices(codes, weights)[0],
                    (start + timedelta(seconds=seconds)).isoformat(),
                    f"C-{customer:07d}",
                    f"A-{agent:04d}",
                    f"T-{agent % 12:02d}",
                    "yes" if customer % 10 else "",
                    "+33612345678" if customer % 10 != 1 else "",
                    "yes" if rng.random() < 0.03 else "",
                    "yes" if customer % 97 == 0 else "",
                ]
            )


def run_child(history: Path, policies: list[Path], result: Path) -> None:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from avis.governance.history import read_history
    from avis.governance.simulation_assumptions import Assumptions
    from avis.governance.simulation_run import run_simulation

    started = time.perf_counter()
    with history.open(encoding="utf-8", newline="") as handle:
        report = run_simulation(
            history=read_history(handle),
            policies=[str(p) for p in policies],
            assumptions=Assumptions(),
        )
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    summary = report.policies[0]
    print(
        f"  {report.interactions:,} interactions, {report.customers:,} customers: {seconds:.1f} s, "
        f"{report.interactions / seconds:,.0f} interactions/s, peak memory {peak_kib / 1024:,.0f} MiB; "
        f"{summary.surveys:,} surveys, {len(summary.goals[0].strata):,} strata",
        flush=True,
    )
    result.write_text(json.dumps({"seconds": seconds, "peak_kib": peak_kib, "n": report.interactions}))


def _measure(n: int, folder: Path, policies: list[Path]) -> dict[str, float]:
    history = folder / f"history-{n}.csv"
    print(f"writing {n:,} interactions", flush=True)
    write_history(history, n)
    result = folder / f"result-{n}.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "avis.settings",
        "AVIS_VAR_DIR": str(folder),
        "AVIS_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, __file__, "--child", str(history), "--result", str(result)]
    subprocess.run([*command, *(arg for p in policies for arg in ("--policy", str(p)))], env=env, check=True)
    history.unlink()
    return json.loads(result.read_text())  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=100_000)
    parser.add_argument("--policies", type=int, choices=[1, 2], default=1, help="simulate one policy or two")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--policy", type=Path, action="append", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.policy, args.result)
        return
    with tempfile.TemporaryDirectory(prefix="avis-bench-simulate-") as name:
        folder = Path(name)
        policies = []
        for label, policy in (("policy", POLICY), ("looser", LOOSER))[: args.policies]:
            path = folder / f"{label}.json"
            path.write_text(json.dumps(policy))
            policies.append(path)
        small = _measure(args.baseline, folder, policies)
        large = _measure(args.n, folder, policies)
    print(
        f"memory: peak {small['peak_kib'] / 1024:,.0f} MiB for {args.baseline:,} interactions, "
        f"{large['peak_kib'] / 1024:,.0f} MiB for {args.n:,} "
        f"({int(args.baseline * CUSTOMER_SHARE):,} and {int(args.n * CUSTOMER_SHARE):,} customers)"
    )
    print(f"ratio: {large['seconds'] / small['seconds']:.2f} (goal ≤ {GOAL})")


if __name__ == "__main__":
    main()
