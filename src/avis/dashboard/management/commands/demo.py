from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from avis.dashboard.demo.company import ADMIN_EMAIL, DEMO_PASSWORD, MANAGER_EMAIL, ORGANISATION_SLUG
from avis.dashboard.demo.generator import demo_is_complete, demo_organisation, drop_demo, load_demo
from avis.dashboard.demo.live import start_live_feed
from avis.dashboard.management.commands.serve import (
    bind,
    log_destination,
    log_file_argument,
    log_to_file,
    logs_line,
    serve,
)


class Command(BaseCommand):
    help = (
        "Load Mutuelle Horizon, a synthetic French insurer with six months of history, then serve "
        "the UI with a worker while new interactions and answers keep arriving."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=5000, help="Members to create (default 5000)")
        parser.add_argument(
            "--interactions", type=int, default=30_000, help="Interactions over six months (default 30000)"
        )
        parser.add_argument("--seed", type=int, default=2025, help="Seed of the simulation (default 2025)")
        parser.add_argument(
            "--reset", action="store_true", help="Drop the demo organisation and load it again"
        )
        parser.add_argument("--no-serve", action="store_true", help="Load the demo, then stop")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="Web server threads (default 8)")
        parser.add_argument(
            "--live-interval",
            type=float,
            default=4.0,
            help="Seconds between two bursts of live activity (default 4)",
        )
        log_file_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] < 1 or options["interactions"] < 1:
            raise CommandError("--customers and --interactions must be at least 1.")
        if options["live_interval"] <= 0:
            raise CommandError("--live-interval must be a positive number of seconds.")
        # Rich draws progress bars on the real stream; Django's wrapper would add line ends.
        console = Console(file=getattr(self.stdout, "_out", self.stdout), highlight=False)
        # The port is taken first: one that is in use is said before minutes of loading, not after.
        server = None
        if not options["no_serve"]:
            server = bind(host=options["host"], port=options["port"], threads=options["threads"])
        # With --no-serve the command ends after the panel: its log lines stay on the terminal.
        log_file = log_destination(options["log_file"]) if server is not None else None
        if log_file is not None:
            log_to_file(log_file)  # log lines would break the progress bars and push the panel away

        console.print("Migrating the database…")
        call_command("migrate", interactive=False, verbosity=0)
        organisation = demo_organisation()
        if organisation is not None:
            complete = demo_is_complete(organisation)
            if not complete:
                console.print("The last demo load was interrupted; loading it again.")
            if options["reset"] or not complete:
                console.print(f"Dropping the demo organisation [bold]{organisation.name}[/]…")
                drop_demo(organisation)
                organisation = None

        api_key = None
        if organisation is None:
            columns = (
                TextColumn("{task.description:<18}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                report = load_demo(
                    customers=options["customers"],
                    interactions=options["interactions"],
                    seed=options["seed"],
                    progress=progress,
                )
            organisation, api_key = report.organisation, report.api_key
            console.print(f"Loaded [bold]{organisation.name}[/] in {report.seconds:.0f} s:")
            table = Table.grid(padding=(0, 2))
            for name, value in report.counts.items():
                table.add_row(name.replace("_", " "), f"{value:>9,}")
            console.print(table)
        else:
            console.print(
                f"[bold]{organisation.name}[/] is already loaded; [bold]--reset[/] loads it afresh."
            )

        url = _browser_url(options["host"], options["port"])
        another = f"avis apikey {ORGANISATION_SLUG} makes another"
        key_lines = (
            f"API key   [bold]{api_key}[/]\n          shown once; {another}"
            if api_key
            else f"API key   shown when the demo was loaded;\n          {another}"
        )

        def panel(*extra: str) -> None:
            """The way in, printed last: nothing written after it pushes it off the screen."""
            console.print(
                Panel(
                    "\n".join(
                        [
                            f"Open      [bold]{url}/[/]",
                            f"Sign in   [bold]{MANAGER_EMAIL}[/] (manager) or [bold]{ADMIN_EMAIL}[/] (admin)",
                            f"Password  [bold]{DEMO_PASSWORD}[/]",
                            key_lines,
                            *extra,
                        ]
                    ),
                    title="avis demo",
                    expand=False,
                )
            )

        if server is None:
            panel()
            return

        # Links in invitations and case emails should point at this server.
        if "AVIS_BASE_URL" not in os.environ:
            os.environ["AVIS_BASE_URL"] = url  # read by the worker process serve() starts
            settings.AVIS_BASE_URL = url
        # Texts of the live feed land on the simulator's phones, where a visitor can answer them.
        if "AVIS_SMS_PROVIDER" not in os.environ:
            os.environ["AVIS_SMS_PROVIDER"] = "simulator"
            settings.AVIS_SMS_PROVIDER = "simulator"
        thread, stop = start_live_feed(organisation=organisation, interval=options["live_interval"])

        def ready() -> None:
            console.print(
                f"New interactions and answers arrive every {options['live_interval']:g} s; "
                "unhappy answers open cases."
            )
            panel(
                f"SMS       {url}/messaging/simulator/",
                logs_line(log_file).replace("Logs: ", "Logs      ", 1),
                "Stop      Ctrl-C",
            )

        try:
            serve(server=server, worker=True, log_file=log_file, ready=ready)
        finally:
            stop.set()
            thread.join(timeout=60)


def _browser_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server (a wildcard address is not one)."""
    wildcard = host in ("0.0.0.0", "::", "")  # noqa: S104 - compared, not bound
    return f"http://{'127.0.0.1' if wildcard else host}:{port}"
