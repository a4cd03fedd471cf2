from __future__ import annotations

import logging
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger("avis.worker")


class Command(BaseCommand):
    help = (
        "Run a background worker (Huey consumer): sends messages, handles inbound texts, runs the tasks "
        "`avis scheduler` enqueues. Start as many as needed, on any machine sharing the queue (Redis)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            "--workers",
            dest="concurrency",
            type=int,
            default=None,
            help="Tasks run at once, each in its own thread (default AVIS_WORKERS)",
        )
        parser.add_argument(
            "--periodic",
            action="store_true",
            help="Also schedule the periodic tasks itself, as the worker `avis serve` starts does (one "
            "machine, one worker). Never with `avis scheduler` or beside another such worker.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        extra = ["--workers", str(options["concurrency"])] if options["concurrency"] else []
        if not options["periodic"]:
            extra.append("--no-periodic")
            logger.info("This worker runs queued tasks only; the periodic ones come from `avis scheduler`.")
        call_command("run_huey", *extra)
