from __future__ import annotations

import errno
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def log_file_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--log-file",
        default=None,
        help="Where the server's and the worker's log lines go (default AVIS_VAR_DIR/logs/avis.log; "
        "'-' keeps them on the terminal, for systemd or a container)",
    )


class Command(BaseCommand):
    help = "Serve the web UI and API (waitress) with a background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="Threads for the UI and the API")
        parser.add_argument(
            "--respondent-threads",
            type=int,
            default=4,
            help="Threads kept for respondents (survey pages, their CSS, providers' webhooks), "
            "so a slow report or export never queues them",
        )
        parser.add_argument("--no-worker", action="store_true", help="Do not start a worker process")
        log_file_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        server = bind(
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            respondent_threads=options["respondent_threads"],
        )
        log_file = log_destination(options["log_file"])

        def panel() -> None:
            self.stdout.write(
                f"avis is serving on http://{options['host']}:{options['port']}/"
                + ("" if options["no_worker"] else " with a worker")
            )
            self.stdout.write(logs_line(log_file) + "\nCtrl-C stops.")

        serve(server=server, worker=not options["no_worker"], log_file=log_file, ready=panel)


# Paths served by the respondents' own threads: the survey page and its answer, the static files
# the page loads, the SMS and e-mail providers' webhooks (an SMS answer arrives there) and the probes.
RESPONDENT_PATHS = ("/s/", "/static/", "/hooks/", "/healthz", "/readyz")


class Lanes:
    """Two pools of threads behind one socket, for waitress: respondents never queue behind the UI.

    waitress hands each connection with a request ready to one FIFO queue of tasks served by its
    threads; with one pool, eight slow exports in flight would hold a respondent's answer until one
    finished. Here a request for a ``RESPONDENT_PATHS`` path goes to a pool of its own. Both pools
    share the process (and Python's GIL): a busy UI slows respondents down, it never stops them.
    """

    def __init__(self, *, threads: int, respondent_threads: int) -> None:
        from waitress.task import ThreadedTaskDispatcher

        self.general = ThreadedTaskDispatcher()
        self.respondents = ThreadedTaskDispatcher()
        self.general.set_thread_count(threads)
        self.respondents.set_thread_count(respondent_threads)

    def add_task(self, channel: Any) -> None:
        # Called with the channel's requests lock held, its next request first in the list.
        request = channel.requests[0] if channel.requests else None
        path = getattr(request, "path", "") or ""
        lane = self.respondents if path.startswith(RESPONDENT_PATHS) else self.general
        lane.add_task(channel)

    def set_thread_count(self, count: int) -> None:
        self.general.set_thread_count(count)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        respondents = self.respondents.shutdown(cancel_pending=cancel_pending, timeout=timeout)
        general = self.general.shutdown(cancel_pending=cancel_pending, timeout=timeout)
        return respondents and general


def bind(*, host: str, port: int, threads: int, respondent_threads: int = 4, application: Any = None) -> Any:
    """The web server, its port taken now: a port in use is one line before anything starts.
    ``application`` is avis's unless given (a test wraps it)."""
    from waitress.server import create_server

    if application is None:
        from avis.wsgi import application

    lanes = Lanes(threads=threads, respondent_threads=respondent_threads) if respondent_threads else None
    try:
        # _dispatcher: waitress's own hook for a task dispatcher of one's choosing.
        return create_server(
            application, host=host, port=port, threads=threads, ident="avis", _dispatcher=lanes
        )
    except OSError as exc:
        if lanes is not None:
            lanes.shutdown(timeout=1)
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is already in use (another avis, or another program); choose one with --port"
        elif exc.errno == errno.EACCES:
            reason = "permission denied (ports below 1024 need privileges); choose one with --port"
        else:
            reason = exc.strerror or str(exc)
        raise CommandError(f"cannot serve on {host}:{port}: {reason}") from None


def log_destination(option: str | None) -> Path | None:
    """The file log lines go to; None keeps them on the terminal."""
    if option == "-":
        return None
    path = Path(option) if option else Path(settings.VAR_DIR) / "logs" / "avis.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("a", encoding="utf-8").close()
    except OSError as exc:
        raise CommandError(f"cannot write the log file {path}: {exc.strerror or exc}") from None
    return path


def logs_line(log_file: Path | None) -> str:
    if log_file is None:
        return "Logs: on this terminal."
    return f"Logs: {log_file}"


def log_to_file(path: Path) -> None:
    """This process's log lines go to the file, redacted and formatted as on the terminal."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "console":  # settings.LOGGING's; others (a test runner's) stay
            to_file = logging.FileHandler(path, encoding="utf-8")
            to_file.setFormatter(handler.formatter)
            for each in handler.filters:
                to_file.addFilter(each)
            to_file.setLevel(handler.level)
            root.removeHandler(handler)
            root.addHandler(to_file)


def start_worker(log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        # The one worker of one machine schedules the periodic tasks too (no `avis scheduler` here).
        [sys.executable, "-m", "avis.cli", "worker", "--periodic"],
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )


def serve(*, server: Any, worker: bool, log_file: Path | None, ready: Callable[[], None]) -> None:
    """Run the bound server (and a worker), calling ``ready`` once everything has started: what it
    prints is the last thing on the terminal, not pushed away by start-up log lines."""
    log = log_file.open("ab") if log_file else None
    if log_file is not None:
        log_to_file(log_file)
    child = start_worker(log) if worker else None

    def stop(signum: int, frame: object) -> None:
        if child is not None:
            child.terminate()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    ready()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if child is not None:
            child.terminate()
            child.wait(timeout=10)
        if log is not None:
            log.close()
