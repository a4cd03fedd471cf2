"""``avis import customers|interactions FILE --organisation SLUG``: a spreadsheet in, dry run first."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from avis.accounts.models import Organisation
from avis.customers.imports import (
    IMPORTERS,
    BadRow,
    Tally,
    check_columns,
    importer_for,
    remember_columns,
    report_lines,
    run_sheet,
    suggested_columns,
)
from avis.errors import AvisError
from avis.tabular import open_sheet

SHOWN_BAD_ROWS = 50


class Command(BaseCommand):
    # The system checks load every page's code (charts, statistics): seconds and a hundred
    # megabytes that an import does not use.
    requires_system_checks: list[str] = []
    help = (
        "Import a CSV or XLSX file of customers or of past interactions. A dry run comes first "
        "and nothing is written until you confirm (or pass --yes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(IMPORTERS), help="what the file holds")
        parser.add_argument("file", type=Path, help="a .csv or .xlsx file")
        parser.add_argument("--organisation", required=True, help="the organisation's slug")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="map a column to an avis field (repeatable; FIELD empty: ignore the column); "
            "other columns take the organisation's last mapping, else a guess from their names",
        )
        parser.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
        parser.add_argument("--yes", action="store_true", help="import without the dry run and the question")
        parser.add_argument(
            "--bad-rows", type=Path, help="write every bad row (line, column, reason) to this CSV"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(file=self.stdout, highlight=False, soft_wrap=True)
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        kind = options["kind"]
        try:
            with open_sheet(path) as sheet:
                columns = suggested_columns(organisation=organisation, kind=kind, header=sheet.header)
                columns |= _given_columns(options["map"], sheet.header)
                check_columns(importer_for(kind), sheet.header, columns)
            _show_columns(console, kind, columns)
            if not options["yes"]:
                tally = self._run(
                    console, organisation, kind, path, columns, write=False, bad_rows=options["bad_rows"]
                )
                self._report(console, tally, done=False)
                if options["dry_run"]:
                    return
                if not sys.stdin.isatty():
                    raise CommandError("Nothing written. Run again with --yes to import.")
                if input("Import these rows? [y/N] ").strip().lower() not in {"y", "yes", "o", "oui"}:
                    console.print("Nothing written.")
                    return
            remember_columns(organisation=organisation, kind=kind, columns=columns)
            tally = self._run(
                console, organisation, kind, path, columns, write=True, bad_rows=options["bad_rows"]
            )
            self._report(console, tally, done=True)
        except AvisError as exc:
            raise CommandError(exc.message) from exc

    def _run(
        self,
        console: Console,
        organisation: Organisation,
        kind: str,
        path: Path,
        columns: dict[str, str],
        *,
        write: bool,
        bad_rows: Path | None,
    ) -> Tally:
        label = "Importing" if write else "Dry run"
        with (
            ExitStack() as files,
            open_sheet(path) as sheet,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                TimeElapsedColumn(),
                console=console,
            ) as bar,
        ):
            task = bar.add_task(label, total=1.0, rows=0)
            sink: Callable[[BadRow], None] | None = None
            if bad_rows is not None:
                writer = csv.writer(files.enter_context(bad_rows.open("w", newline="", encoding="utf-8")))
                writer.writerow(["line", "column", "reason"])

                def write_bad_row(row: BadRow) -> None:
                    writer.writerow([row.line, row.column, row.reason])

                sink = write_bad_row

            def progress(share: float, tally: Tally) -> None:
                bar.update(task, completed=share, rows=tally.read)

            tally = run_sheet(
                organisation=organisation,
                kind=kind,
                sheet=sheet,
                columns=columns,
                write=write,
                progress=progress,
                sink=sink,
            )
            bar.update(task, completed=1.0, rows=tally.read)
        return tally

    def _report(self, console: Console, tally: Tally, *, done: bool) -> None:
        report = tally.as_report()
        for label, count in report_lines(report, done=done):
            console.print(f"{count:>12,}  {label}")
        for line, column, reason in report["bad_rows"][:SHOWN_BAD_ROWS]:
            console.print(f"  line {line}, column {column}: {reason}", markup=False)
        if tally.bad > SHOWN_BAD_ROWS:
            console.print(f"  … and {tally.bad - SHOWN_BAD_ROWS:,} more bad rows.")


def _given_columns(pairs: list[str], header: list[str]) -> dict[str, str]:
    given = {}
    for pair in pairs:
        column, separator, target = pair.rpartition("=")
        if not separator or column not in header:
            raise CommandError(
                f"--map {pair!r}: write COLUMN=FIELD with a column of the file ({', '.join(header)})."
            )
        given[column] = target
    return given


def _show_columns(console: Console, kind: str, columns: dict[str, str]) -> None:
    targets = dict(importer_for(kind).targets())
    table = Table("column", "avis field", title=f"Columns of this {kind} file")
    for column, target in columns.items():
        table.add_row(column, targets.get(target, "(ignored)") if target else "(ignored)")
    console.print(table)
