from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.operations.services import reapply_after_recovery


class Command(BaseCommand):
    help = (
        "After a restore made without `avis restore` (PostgreSQL point-in-time recovery): "
        "`avis journal reapply --since TIME` erases again the customers erased since TIME and records "
        "as sent the messages sent since, so the outbox does not send them twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["reapply"])
        parser.add_argument(
            "--since",
            required=True,
            help="The instant the database was recovered to, e.g. 2026-12-02T03:00:00+01:00",
        )
        parser.add_argument(
            "--journal", type=Path, default=None, help="Its folder (default AVIS_JOURNAL_DIR)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = datetime.fromisoformat(options["since"])
        except ValueError as exc:
            raise CommandError(f"--since {options['since']!r} is not a date and time (ISO 8601).") from exc
        if since.tzinfo is None:
            raise CommandError("--since needs a time zone offset, e.g. 2026-12-02T03:00:00+01:00.")
        erasures, sent = reapply_after_recovery(since=since, directory=options["journal"])
        self.stdout.write(
            f"Re-applied since {since.isoformat()}: {erasures} erasures, {sent} messages already sent."
        )
