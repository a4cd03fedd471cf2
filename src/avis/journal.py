"""What a restore must not undo, written outside the database (beside the backups).

A backup is a picture of the database at one instant. Two kinds of events
after that instant must survive its restore even though the picture lacks
them: a customer's erasure (the GDPR right holds even against our own
backups) and a message handed to a provider (restoring the outbox as it was
must not text a customer twice). Both are appended here, one JSON line each,
to a file per UTC day under ``AVIS_JOURNAL_DIR`` (by default inside
``AVIS_BACKUP_DIR``, which should be another disk than ``var/``), and
``avis restore`` re-applies the lines dated from the backup's start on.

Entries name rows by what stays true in the restored picture: a customer by
its id (no personal data leaves the database), a message by its idempotency
key. A row created after the backup is absent from the picture, so its entry
matches nothing there.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings

logger = logging.getLogger(__name__)

ERASURE = "erasure"
SENT = "sent"
RESTORE = "restore"

_lock = threading.Lock()
_open: dict[Path, TextIO] = {}


def journal_dir() -> Path:
    return Path(settings.AVIS_JOURNAL_DIR)


def _file_for(day: date) -> Path:
    return journal_dir() / f"{day.isoformat()}.jsonl"


def _append(entries: list[dict[str, Any]], at: datetime) -> None:
    """One write per call, in append mode, so lines from several processes never interleave."""
    path = _file_for(at.astimezone(UTC).date())
    text = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries)
    with _lock:
        handle = _open.get(path)
        if handle is None:
            for stale in list(_open):  # yesterday's file is finished
                _open.pop(stale).close()
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = _open[path] = path.open("a", encoding="utf-8")
        handle.write(text)
        handle.flush()


def record_erasure(*, organisation_id: int, customer_id: int, at: datetime) -> None:
    """Written inside the erasure's transaction, and fsynced: an erasure is rare and must not be lost."""
    _append(
        [{"kind": ERASURE, "at": at.isoformat(), "organisation": organisation_id, "customer": customer_id}],
        at,
    )
    with _lock:
        os.fsync(_open[_file_for(at.astimezone(UTC).date())].fileno())


def record_sent(*, keys: list[str], at: datetime) -> None:
    """Messages a provider accepted. Not fsynced: losing the last lines to a power cut costs at
    worst a resend after a restore, which the provider can still recognise by its key."""
    if keys:
        try:
            _append([{"kind": SENT, "at": at.isoformat(), "key": key} for key in keys], at)
        except OSError as exc:  # a full or missing backup disk must not stop sending
            logger.error("journal: could not record %d sent messages: %s", len(keys), exc)


def record_restore(*, archive: str, at: datetime, directory: Path) -> None:
    """A restore starts a new history: what follows it happened to the restored database, and
    must not be re-applied if the same archive is restored again (ids are reused after a restore)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{at.astimezone(UTC).date().isoformat()}.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"kind": RESTORE, "at": at.isoformat(), "archive": archive}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def entries_since(since: datetime, *, directory: Path | None = None) -> Iterator[dict[str, Any]]:
    """The entries of the history a backup taken at ``since`` belongs to, from a day before it
    until the next restore, oldest first.

    A day before, because a send is dated when the provider took it but may
    be committed later (behind another writer's lock): a message can look
    unsent in a backup begun after its date. Re-applying an entry the backup
    already shows changes nothing. A restore before ``since`` ends an older
    history whose rows the backup's history has reused: what came before it
    is dropped. A torn line (a process killed mid-write) is skipped.
    """
    folder = directory or journal_dir()
    if not folder.is_dir():
        return
    start = since - timedelta(days=1)
    first_day = start.astimezone(UTC).date().isoformat()
    kept: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.stem < first_day:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            at = datetime.fromisoformat(entry["at"])
            if at < start:
                continue
            if entry["kind"] == RESTORE:
                if at >= since:
                    yield from kept
                    return
                kept = []
                continue
            kept.append(entry)
    yield from kept


def forget_before(day: date) -> int:
    """Drop the files of days before ``day`` (no kept backup is that old); returns how many."""
    dropped = 0
    for path in journal_dir().glob("*.jsonl"):
        if path.stem < day.isoformat():
            with _lock:
                handle = _open.pop(path, None)
                if handle is not None:
                    handle.close()
            path.unlink(missing_ok=True)
            dropped += 1
    return dropped
