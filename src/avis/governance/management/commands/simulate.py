"""``avis simulate``: replay a history under one or two contact policies and compare them side by side."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
from avis.governance.history import HistoryRow, history_from_database, read_history
from avis.governance.simulation_assumptions import Assumptions, default_sms_cost, observed_assumptions
from avis.governance.simulation_report import Reach, Report, median_width
from avis.governance.simulation_run import run_simulation
from avis.governance.simulation_wording import reason_label, stratum_periods


class Command(BaseCommand):
    help = "Replay a history of interactions under one or two contact policies, writing nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--policy",
            help="a JSON file of policy fields, 'current' or a stored version ('v3'), "
            "optionally with its sampling strategy: current@goals, current@0.35, current@everyone, "
            "current@cheapest, current@rates",
        )
        parser.add_argument("--compare", help="a second side, shown beside the first")
        parser.add_argument(
            "--side", action="append", default=[], help="one more side (POLICY@STRATEGY), repeatable"
        )
        parser.add_argument(
            "--goal",
            action="append",
            default=[],
            help="a precision goal reported on every side: metric/dimension/period/margin[/confidence] "
            "(nps/team/month/10) or its JSON object; repeatable",
        )
        parser.add_argument(
            "--no-explain",
            action="store_true",
            help="do not try the policy changes that would lift an unreachable goal",
        )
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
        # Wide enough that a column reads on one line when the output goes to a file or a pipe.
        console = Console(file=self.stdout, stderr=False, width=None if self.stdout.isatty() else 200)
        policies = [p for p in (options["policy"], options["compare"], *options["side"]) if p]
        if not policies:
            raise CommandError("Give --policy (and --compare or --side for more sides).")
        goals = [_goal(text) for text in options["goal"]]
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
                    zone = organisation.default_time_zone if organisation else "Europe/Paris"
                    region = organisation.default_region if organisation else "FR"

                    def history() -> Iterator[HistoryRow]:
                        with path.open(encoding="utf-8-sig", newline="") as handle:
                            yield from read_history(handle, default_time_zone=zone, default_country=region)
                else:
                    now = timezone.now()

                    def history() -> Iterator[HistoryRow]:
                        return history_from_database(
                            organisation=organisation,  # type: ignore[arg-type]
                            since=now - timedelta(days=365),
                            until=now,
                        )

                report = run_simulation(
                    history=history,
                    policies=policies,
                    organisation=organisation,
                    assumptions=assumptions,
                    goals=goals,
                    explain=not options["no_explain"],
                    progress=lambda done: bar.update(task, completed=done),
                )
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


def _goal(text: str) -> dict[str, Any]:
    """``nps/team/month/10[/0.95]`` or a JSON object."""
    if text.strip().startswith("{"):
        try:
            given = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--goal is not valid JSON: {exc}") from exc
        if not isinstance(given, dict):
            raise CommandError("--goal is a JSON object or metric/dimension/period/margin.")
        return given
    parts = text.strip().split("/")
    if len(parts) not in (4, 5):
        raise CommandError(
            f"--goal {text!r}: write metric/dimension/period/margin, such as nps/team/month/10."
        )
    goal = dict(zip(("metric", "dimension", "period", "margin", "confidence"), parts, strict=False))
    return goal


def _signed(value: float | Decimal, *, places: int = 0) -> str:
    return f"{value:+,.{places}f}".replace("-", "−")


def _print(console: Console, report: Report) -> None:
    span = ""
    if report.first and report.last:
        span = f", {report.first:%Y-%m-%d} → {report.last:%Y-%m-%d}"
    console.print(f"{report.interactions:,} interactions, {report.customers:,} customers{span}")
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    sides = report.policies
    for side in sides:
        table.add_column(side.name, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("sampling", [_rates(side.rates) for side in sides]),
        ("customers surveyed", [f"{p.surveyed:,} ({p.share_surveyed:.1%})" for p in sides]),
        ("surveys (invitations)", [f"{p.surveys:,}" for p in sides]),
        ("surveys per customer: median / p95 / max", [f"{p.median} / {p.p95} / {p.max}" for p in sides]),
        (
            "messages (email / SMS)",
            [f"{p.messages.get('email', 0):,} / {p.messages.get('sms', 0):,}" for p in sides],
        ),
        ("cost", [f"{p.cost:,}" for p in sides]),
        ("expected completes", [f"{p.completes:,.0f}" for p in sides]),
    ]
    reasons = sorted({key for p in sides for key in p.outcomes})
    rows += [(reason, [f"{p.outcomes.get(reason, 0):,}" for p in sides]) for reason in reasons]
    for number, goal in enumerate(sides[0].goals if sides else []):
        rows.append((f"goal: {goal.description}", [p.goals[number].verdict for p in sides]))
        rows.append(
            (
                "  median half-width (complete periods)",
                [_width(p.goals[number].median_half_width) for p in sides],
            )
        )
        partial = [p.goals[number].partial for p in sides]
        if any(partial):
            rows.append(
                (
                    "  partial periods, shown apart",
                    [f"{len(found)}: median {_width(median_width(found))}" for found in partial],
                )
            )  # fmt: skip
    if any(p.saving for p in sides):
        rows.append(("against the cheapest fixed rates:", ["" for _p in sides]))
        rows += [
            (
                "  invitations",
                [_saving(p.saving.invitations if p.saving else None, p.surveys) for p in sides],
            ),
            ("  messages", [_signed(p.saving.messages) if p.saving else "" for p in sides]),
            ("  cost", [_signed(p.saving.cost, places=2) if p.saving else "" for p in sides]),
            (
                "  customers left alone",
                [_signed(p.saving.customers_left_alone) if p.saving else "" for p in sides],
            ),
        ]
    for label, cells in rows:
        table.add_row(label, *cells)
    console.print(table)
    if report.cheapest is not None and report.cheapest.targets != report.cheapest.reference_met:
        console.print(
            f"Asking everyone the policy allows meets the goals in fewer complete stratum-periods "
            f"({', '.join(map(str, report.cheapest.targets))}) than {report.cheapest.reference} "
            f"({', '.join(map(str, report.cheapest.reference_met))}): the fixed rates are held to that."
        )
    if report.cheapest is not None and report.cheapest.rates is None:
        console.print(
            f"No fixed rate meets the goals as often as {report.cheapest.reference} "
            f"({', '.join(map(str, report.cheapest.targets))} complete stratum-periods)."
        )
    for reach in report.reach:
        _print_reach(console, reach)
    a = report.assumptions
    console.print(
        f"Assumptions ({a.source}): response rate {a.response_rate:.0%}"
        + (f" (per touchpoint: {', '.join(f'{k} {v:.0%}' for k, v in sorted(a.response_rates.items()))})"
           if a.response_rates else "")
        + f", SMS {a.sms_cost} per message."
    )  # fmt: skip


def _print_reach(console: Console, reach: Reach) -> None:
    if not reach.unreachable:
        return
    console.print(
        f"{reach.goal.describe()}: out of reach in {reach.unreachable} of {reach.periods} complete "
        f"{stratum_periods(reach.goal, reach.periods)}, even asking everyone the policy allows: "
        f"at most {reach.ceiling:,.0f} completes where {reach.needed:,.0f} are needed (medians), "
        f"best half-width ±{reach.best_half_width:.1f}."
    )
    why = ", ".join(f"{reason_label(r)} {share:.0%}" for r, share in reach.lost.items() if share >= 0.005)
    rate = f"; {reach.response_rate:.0%} of surveys answered" if reach.response_rate is not None else ""
    console.print(f"  Interactions there not asked: {why or 'none'}{rate}.")
    for change in reach.relaxations:
        met = ", ".join(f"{m} of {n}" for m, n in zip(change.met, change.periods, strict=True))
        console.print(
            f"  With {change.description}: met in {met}; {change.surveys:,} surveys, "
            f"{change.surveyed:,} customers asked, at most {change.max} each (p95 {change.p95})."
        )


def _rates(rates: dict[str, float] | None) -> str:
    if rates is None:
        return "per stratum, toward the goals"
    default = rates.get("*", 1.0)
    others = ", ".join(f"{code} {rate:.1%}" for code, rate in sorted(rates.items()) if code != "*")
    return f"{others}, others {default:.0%}" if others else f"{default:.1%}"


def _width(value: float | None) -> str:
    return "–" if value is None else f"±{value:.1f}"


def _saving(difference: int | None, surveys: int) -> str:
    if difference is None:
        return ""
    reference = surveys - difference
    share = f" ({difference / reference:+.0%})".replace("-", "−") if reference else ""
    return _signed(difference) + share
