"""What is known about backups: read from the backup folder, not from the database they copy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from avis.operations.archive import SUFFIX

PREFIX = "avis-"
STAMP = "%Y%m%dT%H%M%SZ"
RUNS = "runs.jsonl"


def backup_dir() -> Path:
    return Path(settings.AVIS_BACKUP_DIR)


def archive_time(archive: Path) -> datetime | None:
    """When a backup began, from its name (``avis-20261202T030000Z.tar.zst``)."""
    try:
        stamp = archive.name.removeprefix(PREFIX).removesuffix(SUFFIX)
        return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def archives(directory: Path | None = None) -> list[tuple[Path, datetime]]:
    """Complete archives, newest first."""
    found = []
    for path in (directory or backup_dir()).glob(f"{PREFIX}*{SUFFIX}"):
        at = archive_time(path)
        if at is not None:
            found.append((path, at))
    return sorted(found, key=lambda item: item[1], reverse=True)


def runs(limit: int = 30) -> list[dict[str, Any]]:
    """The last backup runs, newest first."""
    path = backup_dir() / RUNS
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    found = []
    for line in reversed(lines):
        try:
            run = json.loads(line)
        except json.JSONDecodeError:
            continue
        run["at"] = datetime.fromisoformat(run["at"])
        if run.get("reason"):  # the reason in the reader's language, from the template avis kept
            run["error"] = gettext(run["reason"]) % run.get("params", {})
        found.append(run)
    return found


def last_run() -> dict[str, Any] | None:
    found = runs(limit=1)
    if not found:
        return None
    return {**found[0], "at": found[0]["at"].isoformat()}
