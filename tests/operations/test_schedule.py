"""The scheduler's daily backup, what retention keeps, and the page where an administrator reads both."""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from avis.operations.errors import BackupFailed
from avis.operations.queries import archives
from avis.operations.services import apply_retention, back_up_if_due
from tests.factories import PASSWORD

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def backups(settings, tmp_path):  # noqa: ANN001, ANN201
    settings.AVIS_BACKUP_DIR = tmp_path / "backups"
    settings.AVIS_JOURNAL_DIR = tmp_path / "backups" / "journal"
    settings.AVIS_BACKUP_HOUR = 3
    settings.TIME_ZONE = "Europe/Paris"
    return settings.AVIS_BACKUP_DIR


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_backs_up_once_a_day_from_the_chosen_hour(org, backups) -> None:
    # The night clocks go back (25 October 2026): 03:00 comes once all the same.
    assert back_up_if_due(now=datetime(2026, 10, 25, 2, 59, tzinfo=PARIS)) is None
    first = back_up_if_due(now=datetime(2026, 10, 25, 3, 15, tzinfo=PARIS))
    assert first is not None and first.archive.exists()
    assert back_up_if_due(now=datetime(2026, 10, 25, 23, 45, tzinfo=PARIS)) is None
    # The scheduler was down at 03:00 the next day: it catches up when it returns.
    second = back_up_if_due(now=datetime(2026, 10, 26, 9, 30, tzinfo=PARIS))
    assert second is not None
    assert [path for path, _ in archives()] == [second.archive, first.archive]


def test_no_scheduled_backup_when_the_hour_is_off(settings, backups) -> None:
    settings.AVIS_BACKUP_HOUR = None
    assert back_up_if_due(now=datetime(2026, 7, 14, 12, 0, tzinfo=PARIS)) is None


def test_retention_keeps_the_last_days_and_one_per_week(settings, backups) -> None:
    settings.AVIS_BACKUP_KEEP_DAILY, settings.AVIS_BACKUP_KEEP_WEEKLY = 7, 4
    backups.mkdir()
    start = datetime(2026, 12, 31, 1, 0, tzinfo=UTC)  # Thursday 31 December, a year's end
    made = []
    for day in range(40):
        for hour in (1, 13):  # two a day: only the newest of a day counts
            at = start - timedelta(days=day) + timedelta(hours=hour - 1)
            path = backups / f"avis-{at.strftime('%Y%m%dT%H%M%SZ')}.tar.zst"
            path.write_bytes(b"")
            path.with_name(path.name + ".sha256").write_text("0  x\n")
            made.append(at)
    removed = apply_retention(now=start)
    kept = [at for _, at in archives()]
    newest_each_day = [start - timedelta(days=day) + timedelta(hours=12) for day in range(7)]
    assert kept[:7] == newest_each_day
    # Then the newest of each ISO week back to four weeks: Sunday 20 and 13 December.
    assert kept[7:] == [datetime(2026, 12, 20, 13, tzinfo=UTC), datetime(2026, 12, 13, 13, tzinfo=UTC)]
    assert len(removed) == len(made) - len(kept)
    assert sorted(p.name for p in backups.glob("*.sha256")) == sorted(
        p.name + ".sha256" for p, _ in archives()
    )


@pytest.mark.django_db(transaction=True)
def test_the_backups_page_shows_each_run_to_administrators_only(org, backups) -> None:
    back_up_if_due(now=datetime(2026, 7, 14, 3, 30, tzinfo=PARIS))
    with (backups / "backup.lock").open("w") as lock:  # an operator's backup is being written
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(BackupFailed):
            back_up_if_due(now=datetime(2026, 7, 15, 3, 30, tzinfo=PARIS))

    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    page = admin.get("/settings/backups/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Sauvegardes" in page and "avis-20260714T013000Z.tar.zst" in page
    assert "Chaque jour à partir de 3 h" in page and "le planificateur" in page
    assert "échec" in page and "Une autre sauvegarde est en cours d" in page
    page = admin.get("/settings/backups/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Every day from 3:00" in page and "failed" in page and "Another backup is being written" in page

    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    assert manager.get("/settings/backups/").status_code == 403
