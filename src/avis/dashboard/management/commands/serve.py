from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web UI and API (waitress) with a background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-worker", action="store_true", help="Do not start a worker process")

    def handle(self, *args: Any, **options: Any) -> None:
        serve(
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            worker=not options["no_worker"],
            stdout=self.stdout,
        )


def start_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "avis.cli", "worker"])  # noqa: S603


def serve(*, host: str, port: int, threads: int, worker: bool, stdout: Any) -> None:
    from waitress import serve as waitress_serve

    from avis.wsgi import application

    child = start_worker() if worker else None

    def stop(signum: int, frame: object) -> None:
        if child is not None:
            child.terminate()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    stdout.write(f"avis is serving on http://{host}:{port}/" + (" with a worker" if child else ""))
    try:
        waitress_serve(application, host=host, port=port, threads=threads, ident="avis")
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=10)
