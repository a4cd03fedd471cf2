from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.env import env_int, env_str


class Command(BaseCommand):
    help = (
        "Serve the web UI and API with gunicorn (N processes, each with threads), no worker: the web role "
        "of a deployment on several processes or machines, behind nginx (deploy/)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--processes",
            type=int,
            default=env_int("AVIS_WEB_PROCESSES", 2),
            help="default AVIS_WEB_PROCESSES",
        )
        parser.add_argument(
            "--threads", type=int, default=env_int("AVIS_WEB_THREADS", 4), help="default AVIS_WEB_THREADS"
        )
        parser.add_argument(
            "--bind",
            default=env_str("AVIS_WEB_BIND", "127.0.0.1:8000"),
            help="host:port or unix:/path (default AVIS_WEB_BIND, else 127.0.0.1:8000)",
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=env_int("AVIS_WEB_TIMEOUT", 120),
            help="seconds before a stuck "
            "request's process is restarted (a batch of 10,000 interactions takes tens of seconds)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["processes"] < 1 or options["threads"] < 1:
            raise CommandError("--processes and --threads must be at least 1")
        serve_with_gunicorn(
            bind=options["bind"],
            processes=options["processes"],
            threads=options["threads"],
            timeout=options["timeout"],
        )


def metrics_directory(bind: str) -> Path:
    """Where the processes' Prometheus samples meet (prometheus_client's multiprocess mode): emptied
    at start, since samples of a previous run's processes would be summed with today's. One per
    address, so two `avis web` on one machine keep theirs apart."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    place = re.sub(r"[^A-Za-z0-9.-]+", "_", bind).strip("_")
    directory = Path(configured) if configured else Path(settings.VAR_DIR) / "prometheus" / place
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def serve_with_gunicorn(*, bind: str, processes: int, threads: int, timeout: int) -> None:
    from gunicorn.app.base import BaseApplication

    metrics_directory(bind)

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class Web(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": [bind],
                "workers": processes,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": timeout,
                # SIGTERM: stop accepting, finish the requests in flight (up to this long), exit.
                "graceful_timeout": 30,
                "keepalive": 5,
                # One line per request comes from avis's own access log (redacted, with the request
                # id: avis/observability.py); gunicorn's would print tokens and query strings.
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "info",
                "proc_name": "avis-web",
                # gunicorn's control socket is one path per user: several avis web on one machine collide.
                "control_socket_disable": True,
                "child_exit": child_exit,
                # X-Forwarded-* are honoured by Django (AVIS_BEHIND_PROXY), not by gunicorn.
                "forwarded_allow_ips": "",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from avis.wsgi import application

            return application

    Web().run()
