from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from avis.dashboard.management.commands.serve import log_destination, log_to_file
from avis.operations import scheduler


class Command(BaseCommand):
    help = (
        "Enqueue the periodic tasks (sweeps, escalations, reminders, reports, backups) for the workers. "
        "Exactly one is active at a time: another one started waits on a lock and takes over within "
        "seconds if the active one dies."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--log-file", default="-", help="Where its log lines go (default: the terminal)")

    def handle(self, *args: Any, **options: Any) -> None:
        log_file = log_destination(options["log_file"])
        if log_file is not None:
            log_to_file(log_file)
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        scheduler.run(stop)
