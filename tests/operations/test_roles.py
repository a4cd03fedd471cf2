"""The process roles of a deployment on several machines, as real processes: `avis scheduler` (exactly
one active, a second takes over when the first is killed), `avis worker` (runs what the scheduler
enqueues, never schedules itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from avis.operations import scheduler
from avis.operations.models import PeriodicRun
from tests.messaging.conftest import database_url, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def start(tmp_path: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (tmp_path / f"{name}.log").open("ab") as log:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "avis.cli", *args],
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "AVIS_HUEY_IMMEDIATE": "false",
                "AVIS_BACKUP_HOUR": "off",
                "AVIS_LOG_LEVEL": "INFO",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def said(tmp_path: Path, name: str, text: str) -> bool:
    path = tmp_path / f"{name}.log"
    return path.exists() and text in path.read_text(encoding="utf-8", errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_second_scheduler_waits_then_takes_over_within_a_minute_when_the_first_is_killed(
    tmp_path, real_queue
) -> None:
    first = start(tmp_path, "first", "scheduler")
    second = None
    try:
        assert wait_for(lambda: said(tmp_path, "first", "is now the active one"), timeout=60), (
            tmp_path / "first.log"
        ).read_text()
        assert wait_for(lambda: PeriodicRun.objects.exists(), timeout=15)
        second = start(tmp_path, "second", "scheduler")
        assert wait_for(lambda: said(tmp_path, "second", "waits to take over"), timeout=60), (
            tmp_path / "second.log"
        ).read_text()
        assert not said(tmp_path, "second", "is now the active one")

        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        assert wait_for(lambda: said(tmp_path, "second", "is now the active one"), timeout=60)
        assert time.monotonic() - killed < 60

        # Each (task, period) once, whichever scheduler enqueued it; the queue holds each id once.
        runs = list(PeriodicRun.objects.values_list("task", "period", "scheduler"))
        assert len({(task, period) for task, period, _ in runs}) == len(runs)
        this_minute = timezone.now().replace(second=0, microsecond=0)
        assert wait_for(
            lambda: PeriodicRun.objects.filter(task="sweep_outbox", period__gte=this_minute).exists(),
            timeout=70,
        )
        scheduler.periodic_tasks()  # this process knows the tasks it reads from the queue
        queued = Counter(task.id for task in real_queue.pending())
        assert queued and max(queued.values()) == 1
        assert all(task_id.startswith(scheduler.TASK_ID_PREFIX) for task_id in queued)
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_workers_run_what_the_scheduler_enqueued_and_record_it_without_scheduling_themselves(
    tmp_path, real_queue
) -> None:
    worker = start(tmp_path, "worker", "worker", "--concurrency", "2")
    try:
        assert wait_for(lambda: said(tmp_path, "worker", "Periodic tasks are disabled"), timeout=60), (
            tmp_path / "worker.log"
        ).read_text()
        now = timezone.now()
        assert scheduler.enqueue_due(now, by="test")  # what the active scheduler does each pass
        assert wait_for(lambda: not PeriodicRun.objects.filter(finished_at=None).exists(), timeout=60), (
            tmp_path / "worker.log"
        ).read_text()
        assert set(PeriodicRun.objects.values_list("outcome", flat=True)) == {"done"}
        # The same minute again: nothing enqueued twice.
        assert scheduler.enqueue_due(now, by="test") == []
    finally:
        stop(worker)
