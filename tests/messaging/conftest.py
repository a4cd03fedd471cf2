"""Real worker processes for the messaging tests: the same `avis worker` an operator runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from django.db import connection


def database_url() -> str:
    """The test database, as the worker process must see it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def start_worker(env: dict[str, str], workers: int = 2) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "avis.cli", "worker", "--workers", str(workers)],
        env={**os.environ, "AVIS_HUEY_IMMEDIATE": "false", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
