"""``avis simulate``: replay a history under one or two contact policies and compare them side by side."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from avis.accounts.models import Organisation
from avis.errors import AvisError
from avis.governance.simulation import history_from_database, read_history
from avis.governance.simulation_report import (
    Assumptions,
    Report,
    default_sms_cost,
    observed_assumptions,
    run_simulation,
)


class Command(BaseCommand):
    help = "Replay a history of interactions under one or two contact policies, writing nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--policy",
            required=True,
            help="a JSON file of policy fields, 'current' or a stored version ('v3')",
        )
        parser.add_argument("--compare", help="a second policy, shown beside the first")
        parser.add_argument(
            "--interactions",
            help="the history CSV (docs/governance.md, Simulation); "
            "without it, the organisation's own interactions of the last 12 months",
        )
        parser.add_argument(
            "--organisation", help="slug: its policy versions, goals, surveys and observed rates"
        )
        parser.add_argument("--response-rate", type=float, help="expected share of invitations answered")
        parser.add_argument(
            "--sms-cost", help="cost of one SMS invitation (default: observed, else configured)"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(slug=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        if not options["interactions"] and organisation is None:
            raise CommandError(
                "Give --interactions HISTORY.csv, or --organisation to replay its own interactions."
            )
        try:
            assumptions = self._assumptions(options, organisation)
        except (InvalidOperation, ValueError) as exc:
            raise CommandError(f"--sms-cost must be a decimal number ({exc}).") from exc
        console = Console(file=self.stdout, stderr=False)
        policies = [options["policy"], *([options["compare"]] if options["compare"] else [])]
        try:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
                disable=options["json"],
            ) as bar:
                task = bar.add_task("Replaying", total=None)
                if options["interactions"]:
                    path = Path(options["interactions"])
                    if not path.is_file():
                        raise CommandError(f"No such file: {path}")
                    with path.open(encoding="utf-8-sig", newline="") as handle:
                        total = max(0, sum(1 for _ in handle) - 1)
                    bar.update(task, total=total)
                    handle = path.open(encoding="utf-8-sig", newline="")
                    zone = organisation.default_time_zone if organisation else "Europe/Paris"
                    region = organisation.default_region if organisation else "FR"
                    history = read_history(handle, default_time_zone=zone, default_country=region)
                else:
                    now = timezone.now()
                    handle = None
                    history = history_from_database(
                        organisation=organisation,  # type: ignore[arg-type]
                        since=now - timedelta(days=365),
                        until=now,
                    )
                try:
                    report = run_simulation(
                        history=history,
                        policies=policies,
                        organisation=organisation,
                        assumptions=assumptions,
                        progress=lambda done: bar.update(task, completed=done),
                    )
                finally:
                    if handle is not None:
                        handle.close()
        except AvisError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
            return
        _print(console, report)

    def _assumptions(self, options: dict[str, Any], organisation: Organisation | None) -> Assumptions:
        defaults = Assumptions(sms_cost=default_sms_cost())
        if options["sms_cost"] is not None:
            defaults.sms_cost = Decimal(options["sms_cost"])
        if options["response_rate"] is not None:
            if not 0 < options["response_rate"] <= 1:
                raise CommandError("--response-rate is a share between 0 and 1, such as 0.3.")
            defaults.response_rate = options["response_rate"]
        if organisation is None or options["response_rate"] is not None:
            return defaults
        observed = observed_assumptions(organisation=organisation, defaults=defaults)
        if options["sms_cost"] is not None:
            observed.sms_cost = defaults.sms_cost
        return observed


def _print(console: Console, report: Report) -> None:
    span = ""
    if report.first and report.last:
        span = f", {report.first:%Y-%m-%d} → {report.last:%Y-%m-%d}"
    console.print(f"{report.interactions:,} interactions, {report.customers:,} customers{span}")
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    for policy in report.policies:
        table.add_column(policy.label, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("customers surveyed", [f"{p.surveyed:,} ({p.share_surveyed:.1%})" for p in report.policies]),
        ("surveys", [f"{p.surveys:,}" for p in report.policies]),
        (
            "surveys per customer: median / p95 / max",
            [f"{p.median} / {p.p95} / {p.max}" for p in report.policies],
        ),
        (
            "messages (email / SMS)",
            [f"{p.messages.get('email', 0):,} / {p.messages.get('sms', 0):,}" for p in report.policies],
        ),
        ("cost", [f"{p.cost:,}" for p in report.policies]),
        ("expected completes", [f"{p.completes:,.0f}" for p in report.policies]),
    ]
    reasons = sorted({key for p in report.policies for key in p.outcomes})
    rows += [(reason, [f"{p.outcomes.get(reason, 0):,}" for p in report.policies]) for reason in reasons]
    for number, goal in enumerate(report.policies[0].goals if report.policies else []):
        cells = []
        for policy in report.policies:
            outcome = policy.goals[number]
            width = outcome.median_half_width
            median = "–" if width is None else f"±{width:.1f}"
            verdict = "met" if outcome.all_met else "not met"
            cells.append(f"{verdict}: {outcome.met}/{len(outcome.strata)} strata, median {median}")
        rows.append((f"goal: {goal.description}", cells))
    for label, cells in rows:
        table.add_row(label, *cells)
    console.print(table)
    a = report.assumptions
    console.print(
        f"Assumptions ({a.source}): response rate {a.response_rate:.0%}"
        + (f" (per touchpoint: {', '.join(f'{k} {v:.0%}' for k, v in sorted(a.response_rates.items()))})"
           if a.response_rates else "")
        + f", SMS {a.sms_cost} per message."
    )  # fmt: skip
