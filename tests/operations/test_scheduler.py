"""Which periods the active scheduler enqueues: each (task, period) once, the ones a dead scheduler
missed caught up, nothing replayed on a first start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from avis.operations import scheduler
from avis.operations.models import PeriodicRun

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 29, 12, 0, 20, tzinfo=UTC)  # a Sunday, the day clocks go forward in France


def enqueued(real_queue) -> list[str]:  # noqa: ANN001
    scheduler.periodic_tasks()
    return sorted(task.id for task in real_queue.pending())


def test_a_first_start_enqueues_this_minutes_tasks_once_and_replays_nothing(real_queue) -> None:
    ids = scheduler.enqueue_due(NOON, by="a")
    assert "periodic:sweep_outbox@2026-03-29T12:00Z" in ids
    assert "periodic:sweep_webhooks@2026-03-29T12:00Z" in ids  # every five minutes
    assert not any("T11:" in each for each in ids)
    assert scheduler.enqueue_due(NOON + timedelta(seconds=30), by="b") == []
    assert enqueued(real_queue) == sorted(ids)
    assert PeriodicRun.objects.filter(scheduler="a").count() == len(ids)


def test_a_scheduler_taking_over_enqueues_the_periods_the_dead_one_missed(real_queue) -> None:
    scheduler.enqueue_due(NOON, by="dead")
    # The first one died at 12:00:40; the second takes over at 12:02:10.
    ids = scheduler.enqueue_due(NOON + timedelta(minutes=2), by="second")
    assert "periodic:sweep_outbox@2026-03-29T12:01Z" in ids
    assert "periodic:sweep_outbox@2026-03-29T12:02Z" in ids
    assert not any("T12:00Z" in each for each in ids)
    pairs = list(PeriodicRun.objects.values_list("task", "period"))
    assert len(pairs) == len(set(pairs))
    assert len(enqueued(real_queue)) == len(pairs)


def test_the_worker_records_that_a_periodic_task_ran() -> None:
    PeriodicRun.objects.create(task="sweep_outbox", period=NOON.replace(second=0))
    assert scheduler.record_finished("periodic:sweep_outbox@2026-03-29T12:00Z", failed=False, now=NOON)
    assert not scheduler.record_finished("3f1c-an-ordinary-task", failed=False)
    run = PeriodicRun.objects.get()
    assert (run.outcome, run.finished_at) == ("done", NOON)
