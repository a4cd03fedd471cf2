from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.operations.errors import RestoreRefused
from avis.operations.services import restore


class Command(BaseCommand):
    help = (
        "Restore an archive of `avis backup` into an empty var/ (or database), check it, migrate it forward "
        "and re-apply the erasures and sends journaled since. Stop avis first."
    )
    # Nothing may open the database before the restored one is in place.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="avis-YYYYMMDDTHHMMSSZ.tar.zst")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace a database that holds data (it is moved aside, not deleted)",
        )
        parser.add_argument(
            "--journal", type=Path, default=None,
            help="Folder of the erasure and send journal (default: journal/ beside the archive, "
            "else AVIS_JOURNAL_DIR)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = restore(
                archive=options["archive"], force=options["force"], journal_dir=options["journal"]
            )
        except RestoreRefused as exc:
            raise CommandError(f"Restore refused: {exc.message}") from exc
        manifest = result.manifest
        self.stdout.write(
            f"Restored {result.archive.name}: backup of {manifest['started_at']} "
            f"by avis {manifest['avis_version']}, "
            f"{sum(manifest['tables'].values()):,} rows."
        )
        if result.migrated:
            self.stdout.write(f"Migrated forward: {len(result.migrated)} migrations.")
        self.stdout.write(
            f"Re-applied since the backup: {result.erasures} erasures, {result.sent} messages already sent."
        )
        if result.aside:
            self.stdout.write(f"What was there is in {result.aside}: {', '.join(result.moved_aside)}.")
