"""Interactions per second through nginx with 2 web processes and 2 workers, against 1 and 1.

Each set-up is a real cluster (tests/cluster.py): a private PostgreSQL and Redis, nginx in front of
the web processes (`avis web --processes 1`), workers (`avis worker`), one `avis scheduler`, and a local
SMS gateway in its own process; every interaction is for a new customer, so each one is decided,
invited and texted (the worker's share of the work is real).

1. Unloaded: one client, one request at a time: the p50 of `POST /api/v1/interactions`. The p99 target
   of both set-ups is 5 × that p50 (the 1 + 1 set-up's).
2. Each set-up: closed-loop clients, 1, 2, 4, 8, 16 at once, `--step` seconds each; its maximum is the
   best throughput whose p99 met the target.
3. The 2 + 2 set-up at 70 % of its maximum, open loop (requests at a fixed rate whatever the answers'
   pace), for `--duration` seconds (300 by default; shorter for a quick look): p99 ≤ 5 × unloaded p50,
   and the outbox drained within 60 s of the load stopping.

CPU seconds of each role (web, worker, scheduler, PostgreSQL, Redis, nginx, the load itself) are read
from /proc for each phase. The machine has 2 shared cores: the ratio is what they allow, not what more
machines would give.

    .venv/bin/python bench/scale.py [--step 20] [--duration 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from gateway import start_gateway  # noqa: E402
from interaction_profile import payload as interaction  # noqa: E402
from tests.cluster import Cluster, cpu_seconds, gateway_env  # noqa: E402

SET_UP = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.factories import make_organisation
from tests.helpers import open_all_day
org = make_organisation("Bench scale", slug="bench-scale")
open_all_day(org.organisation)
print("KEY", org.api_key)
"""
CONCURRENCY = [1, 2, 4, 8, 16]
_numbers = iter(range(10**9))
_numbers_lock = threading.Lock()


def payload() -> bytes:
    with _numbers_lock:
        n = next(_numbers)
    return interaction(n).encode()


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


class Load:
    def __init__(self, url: str, key: str) -> None:
        self.url = url + "/api/v1/interactions"
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.errors = 0
        self.slow: list[tuple[float, float]] = []  # open loop: (seconds since the start, latency)

    def post(self, http) -> float:  # noqa: ANN001
        started = time.perf_counter()
        response = http.post(self.url, content=payload(), headers=self.headers)
        if response.status_code != 200:
            self.errors += 1
        return time.perf_counter() - started

    def closed(self, clients: int, seconds: float) -> tuple[float, list[float]]:
        """``clients`` each posting as soon as the last answer came: (interactions/s, latencies)."""
        import httpx

        latencies: list[float] = []
        end = time.monotonic() + seconds

        def client() -> None:
            with httpx.Client(timeout=60) as http:
                while time.monotonic() < end:
                    latencies.append(self.post(http))

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(latencies) / (time.monotonic() - started), latencies

    def open(self, rate: float, seconds: float) -> tuple[float, list[float]]:
        """Requests at ``rate``/s whatever the answers' pace; latency counted from each one's due time."""
        import httpx

        latencies: list[float] = []
        due = [time.monotonic() + i / rate for i in range(int(rate * seconds))]
        cursor = iter(due)
        lock = threading.Lock()

        def client() -> None:
            with httpx.Client(timeout=60) as http:
                while True:
                    with lock:
                        at = next(cursor, None)
                    if at is None:
                        return
                    wait = at - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    self.post(http)
                    latencies.append(time.monotonic() - at)
                    self.slow.append((at - due[0], latencies[-1]))

        threads = [threading.Thread(target=client) for _ in range(64)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(latencies) / (time.monotonic() - started), latencies


def role_pids(cluster: Cluster) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {"web": [], "worker": [], "scheduler": []}
    for role in cluster.roles:
        if role.alive():
            pids[role.name.split("-")[0]] += role.pids()
    postmaster = int((cluster.postgres.data / "postmaster.pid").read_text().split()[0])
    pids["postgres"] = descendants(postmaster)
    pids["redis"] = [cluster.redis.process.pid] if cluster.redis.process else []
    pids["nginx"] = descendants(cluster.nginx.process.pid) if cluster.nginx.process else []
    return pids


def descendants(pid: int) -> list[int]:
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            kids = [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


class Cpu:
    """CPU seconds per role over one phase (and the load generator's own): each process's CPU at the
    end less its CPU at the start (all of it for a process born meanwhile, such as a PostgreSQL
    backend); a process that ended during the phase is not counted."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.before = self.read()

    def read(self) -> dict[str, dict[int, float]]:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        per_role = {
            role: {pid: cpu_seconds([pid]) for pid in pids} for role, pids in role_pids(self.cluster).items()
        }
        return per_role | {"load": {0: usage.ru_utime + usage.ru_stime}}

    def used(self) -> dict[str, float]:
        after = self.read()
        return {
            role: sum(value - self.before.get(role, {}).get(pid, 0.0) for pid, value in pids.items())
            for role, pids in after.items()
        }


def cpu_line(used: dict[str, float], seconds: float) -> str:
    return ", ".join(f"{role} {value / seconds:.2f}" for role, value in used.items()) + " (cores)"


def outbox_waiting(cluster: Cluster) -> int:
    return cluster.postgres.query(
        "SELECT count(*) FROM messaging_outboundmessage WHERE status IN ('pending', 'sending') "
        "AND not_before <= now()"
    )[0][0]


def cluster_of(size: int, gateway_url: str) -> tuple[Cluster, str]:
    cluster = Cluster(webs=size, workers=size, env_extra=gateway_env(gateway_url))
    cluster.start_servers()
    key = next(
        line.split()[1]
        for line in cluster.avis("shell", "-c", SET_UP).stdout.splitlines()
        if line.startswith("KEY ")
    )
    cluster.start_avis()
    return cluster, key


def warm_up(load: Load) -> None:
    """First requests pay for each web process's imports, caches and connections: not measured."""
    load.closed(4, 10)


def unloaded_p50(load: Load, requests: int = 100) -> float:
    import httpx

    with httpx.Client(timeout=60) as http:
        return statistics.median(load.post(http) for _ in range(requests))


def maximum(cluster: Cluster, load: Load, target: float, step: float, label: str) -> float:
    best = 0.0
    for clients in CONCURRENCY:
        cpu = Cpu(cluster)
        started = time.monotonic()
        rate, latencies = load.closed(clients, step)
        seconds = time.monotonic() - started
        p99 = percentile(latencies, 0.99)
        met = p99 <= target
        p50 = percentile(latencies, 0.5)
        over = "" if met else " (over the target)"
        print(
            f"  {label}, {clients:2d} clients: {rate:6.1f}/s, p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms{over}; CPU {cpu_line(cpu.used(), seconds)}",
            flush=True,
        )
        if met:
            best = max(best, rate)
        # Let the workers send what this step queued before the next one measures.
        deadline = time.monotonic() + 60
        while outbox_waiting(cluster) and time.monotonic() < deadline:
            time.sleep(1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=20, help="seconds per concurrency step")
    parser.add_argument("--duration", type=float, default=300, help="seconds at 70 %% of the maximum")
    args = parser.parse_args()

    gateway, gateway_url = start_gateway()
    results: dict[int, float] = {}
    target = 0.0
    unloaded = 0.0
    sustained = ""
    sustained_p99, sustained_drained = float("inf"), float("inf")
    try:
        for size in (1, 2):
            cluster, key = cluster_of(size, gateway_url)
            try:
                load = Load(cluster.nginx.url, key)
                warm_up(load)
                if size == 1:
                    unloaded = unloaded_p50(load)
                    target = 5 * unloaded
                    print(
                        f"unloaded p50 {unloaded * 1000:.1f} ms; p99 target {target * 1000:.0f} ms",
                        flush=True,
                    )
                print(f"{size} web + {size} worker{'s' if size > 1 else ''}:", flush=True)
                results[size] = maximum(cluster, load, target, args.step, f"{size}+{size}")
                if size == 2 and results[2] > 0:
                    rate = 0.7 * results[2]
                    cpu = Cpu(cluster)
                    started = time.monotonic()
                    achieved, latencies = load.open(rate, args.duration)
                    seconds = time.monotonic() - started
                    stopped = time.monotonic()
                    while outbox_waiting(cluster) and time.monotonic() - stopped < 120:
                        time.sleep(0.5)
                    drained = time.monotonic() - stopped
                    p99 = percentile(latencies, 0.99)
                    sustained_p99, sustained_drained = p99, drained
                    sustained = (
                        f"2+2 at 70 % ({rate:.1f}/s asked, {achieved:.1f}/s done) for {args.duration:.0f} s: "
                        f"p99 {p99 * 1000:.0f} ms ({'≤' if p99 <= target else '>'} 5 × unloaded p50 = "
                        f"{target * 1000:.0f} ms), outbox drained {drained:.1f} s after the load "
                        f"({'within' if drained <= 60 else 'NOT within'} 60 s), {load.errors} non-200; "
                        f"CPU {cpu_line(cpu.used(), seconds)}"
                    )
                    print("  " + sustained, flush=True)
                    settled = [latency for at, latency in load.slow if at >= 5]
                    print(
                        f"  p99 without the first 5 s: {percentile(settled, 0.99) * 1000:.0f} ms",
                        flush=True,
                    )
                    worst = sorted(load.slow, key=lambda pair: -pair[1])[: max(1, len(load.slow) // 100)]
                    print(
                        "  its slowest 1 % (second of the run: latency): "
                        + ", ".join(f"{at:.0f}: {latency * 1000:.0f} ms" for at, latency in sorted(worst)),
                        flush=True,
                    )
            finally:
                cluster.stop()
    finally:
        gateway.terminate()
    print(f"maximum at p99 ≤ {target * 1000:.0f} ms: 1+1 {results[1]:.1f}/s, 2+2 {results.get(2, 0):.1f}/s")
    scaling = results.get(2, 0) / results[1] if results.get(1) else 0.0
    # Issue 18 asks for this figure reported, not for a goal: on 2 shared cores the 1 + 1 set-up
    # already keeps both busy (the CPU per role above), so a second web process and worker share them.
    print(f"scaling: {scaling:.2f} (interactions/s of 2 web + 2 workers over 1 + 1, same p99 target)")
    drained_ok = "drained within 60 s" if sustained_drained <= 60 else "NOT drained within 60 s"
    print(
        f"ratio: {sustained_p99 / target if target else float('inf'):.2f} (goal ≤ 1: the sustained run's p99 "
        f"over 5 × an unloaded p50; outbox {drained_ok})"
    )


if __name__ == "__main__":
    main()
