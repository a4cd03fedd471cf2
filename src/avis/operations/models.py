from __future__ import annotations

from django.db import models
from django.utils import timezone


class PeriodicRun(models.Model):
    """One periodic task for one period (the minute its schedule fell due), enqueued once.

    Not an organisation's data: the installation's own bookkeeping, written by `avis scheduler`.
    The unique (task, period) pair is what keeps a period from being enqueued twice, whichever
    scheduler holds the lock (a takeover, a split brain). The worker that runs the task records
    when it finished and how.
    """

    task = models.CharField(max_length=120)
    period = models.DateTimeField()  # the minute (UTC) the task's schedule matched
    enqueued_at = models.DateTimeField(default=timezone.now)
    scheduler = models.CharField(max_length=160, blank=True)  # host:pid of the scheduler that enqueued it
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, blank=True)  # "", "done" or "failed"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "period"], name="one_run_per_task_period")]
        indexes = [models.Index(fields=["period"])]

    def __str__(self) -> str:
        return f"{self.task}@{self.period:%Y-%m-%d %H:%M}"
