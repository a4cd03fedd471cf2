from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.operations.errors import BackupFailed
from avis.operations.services import back_up


class Command(BaseCommand):
    help = (
        "Back up avis while it serves: the database (SQLite's online backup, or pg_dump), the queue file and "
        "the secret key, in one compressed archive with its manifest, into AVIS_BACKUP_DIR; then retention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="Print nothing when it works (for cron)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Serving comes first: on a busy machine the backup takes the CPU time avis leaves.
        os.nice(10)
        try:
            result = back_up(trigger="command")
        except BackupFailed as exc:
            raise CommandError(exc.message) from exc
        if not options["quiet"]:
            self.stdout.write(
                f"{result.archive} ({result.size:,} bytes, {result.rows:,} rows, {result.seconds:.1f} s)"
            )
            for name in result.removed:
                self.stdout.write(f"removed by retention: {name}")
