"""Importing a spreadsheet: what every kind of import shares, from the mapping to the chunked writes.

An import goes in three steps, the same from the web page and the command line:
its columns are mapped to avis fields (the mapping is remembered per
organisation and kind), a dry run reads the whole file and says what would
be created, updated, and which rows are bad (line, column, reason), and only
once confirmed are the good rows written. The file is read as a stream and
written in chunks of a few thousand rows, each in its own transaction, so a
file of a million rows needs no more memory than one of a thousand, and a run
stopped half-way can simply be run again: every row is keyed on its external
id, so nothing is ever created twice.

Each kind of file is an ``Importer`` registered by the app that owns its
rows: customers in ``avis.customers.customer_import``, past interactions in
``avis.interactions.imports``.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from avis.accounts.models import Organisation
from avis.bulk import collector_paused
from avis.customers.contact_details import is_email, parse_phone
from avis.customers.models import ColumnMapping
from avis.errors import ValidationFailed
from avis.tabular import MONTH_FIRST_REGIONS, Sheet, read_moment

CHUNK_ROWS = 5000
MAX_REPORTED_ROWS = 1000
MAX_FUTURE_SKEW = timedelta(minutes=10)
ATTRIBUTE = "attribute"
CUSTOMER_ATTRIBUTE = "customer_attribute"
YES = frozenset({"1", "true", "yes", "y", "oui", "o", "vrai", "x"})
NO = frozenset({"", "0", "false", "no", "n", "non", "faux"})


# --- fields and their mapping ------------------------------------------------------------------


@dataclass(frozen=True)
class ImportField:
    """An avis field a column can be mapped to, and the headers that suggest it."""

    name: str
    label: Promise
    required: bool = False
    synonyms: tuple[str, ...] = ()


def header_key(text: str) -> str:
    """A header as compared with synonyms: lower case, no accents, words split by single spaces."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.split(r"[^a-z0-9]+", plain)).strip()


@dataclass
class BadRow:
    line: int
    column: str
    reason: str


class RowProblem(ValueError):
    """One cell of one row is wrong; the row is reported and skipped."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


@dataclass
class Tally:
    """What a dry run or an import found: rows read, counts by outcome, and the bad rows."""

    read: int = 0
    bad: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    bad_rows: list[BadRow] = field(default_factory=list)
    # Called with every bad row, beyond the first thousand the report keeps (the CLI's --bad-rows file).
    sink: Callable[[BadRow], None] | None = None

    def reject(self, line: int, column: str, reason: str) -> None:
        self.bad += 1
        row = BadRow(line, column, reason)
        if len(self.bad_rows) < MAX_REPORTED_ROWS:
            self.bad_rows.append(row)
        if self.sink is not None:
            self.sink(row)

    def as_report(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "bad": self.bad,
            "counts": dict(self.counts),
            "bad_rows": [[row.line, row.column, row.reason] for row in self.bad_rows],
        }


# Distinct phones (and emails) an import remembers, some 200 bytes each: at most 160 MB in all.
MAX_REMEMBERED_VALUES = 400_000


@dataclass(frozen=True)
class Reading:
    """How one organisation writes its cells: phones of its region, dates of its country and zone."""

    organisation: Organisation
    region: str
    zone: ZoneInfo
    month_first: bool
    now: datetime
    # A file names each customer's phone and email on every row of theirs: each distinct
    # value is checked once per import (the process-wide caches are too small for a
    # million-row file's 300,000 customers, and checking costs more than storing the row).
    _phones: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False, repr=False)
    _emails: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    # Customers this import has written: their key, and a fingerprint of the values it gave.
    _written: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, organisation: Organisation, now: datetime) -> Reading:
        region = organisation.default_region.upper()
        return cls(
            organisation, region, ZoneInfo(organisation.default_time_zone), region in MONTH_FIRST_REGIONS, now
        )

    def moment(self, value: Any, name: str) -> datetime:
        try:
            moment = read_moment(value, zone=self.zone, month_first=self.month_first)
        except ValueError as exc:
            raise RowProblem(name, str(exc)) from None
        if moment > self.now + MAX_FUTURE_SKEW:
            raise RowProblem(name, _("%(value)s is in the future") % {"value": value})
        return moment

    def phone(self, raw: str) -> tuple[str, str]:
        """The E.164 number and an empty problem, or an empty number and the problem."""
        parsed = self._phones.get(raw)
        if parsed is None:
            parsed = parse_phone.__wrapped__(raw, self.region)
            if len(self._phones) < MAX_REMEMBERED_VALUES:
                self._phones[raw] = parsed
        return parsed

    def is_email(self, raw: str) -> bool:
        valid = self._emails.get(raw)
        if valid is None:
            valid = is_email.__wrapped__(raw)
            if len(self._emails) < MAX_REMEMBERED_VALUES:
                self._emails[raw] = valid
        return valid

    def unchanged_customers(
        self, wanted: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
        """Split a chunk's customers: the keys of those this import already wrote with the same
        values, and the others, which must be looked up and written.

        A customer comes back on each of their rows in a file of past interactions;
        reading them from the database again for every chunk was a sixth of the import.
        """
        known: dict[str, int] = {}
        others: dict[str, dict[str, Any]] = {}
        for key, values in wanted.items():
            written = self._written.get(key)
            if written is not None and written[1] == hash(repr(values)):
                known[key] = written[0]
            else:
                others[key] = values
        return known, others

    def wrote_customers(self, wanted: dict[str, dict[str, Any]], keys: dict[str, int]) -> None:
        for key, values in wanted.items():
            if len(self._written) >= MAX_REMEMBERED_VALUES:
                return
            self._written[key] = (keys[key], hash(repr(values)))


class Row:
    """One row's cells by field, and its attribute columns, as the mapping says."""

    __slots__ = ("attributes", "customer_attributes", "line", "values")

    def __init__(
        self, line: int, values: dict[str, Any], attributes: dict[str, str], customer: dict[str, str]
    ):
        self.line = line
        self.values = values
        self.attributes = attributes
        self.customer_attributes = customer

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value.strip() if isinstance(value, str) else str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise RowProblem(name, _("this cell is empty"))
        return value


def row_splitter(header: Sequence[str], columns: dict[str, str]) -> Callable[[int, list[Any]], Row]:
    """A function turning a row's cells into a ``Row`` according to the mapping."""
    plan = [(index, name, columns.get(name, "")) for index, name in enumerate(header) if columns.get(name)]

    def split(line: int, cells: list[Any]) -> Row:
        values: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        customer: dict[str, str] = {}
        width = len(cells)
        for index, name, target in plan:
            cell = cells[index] if index < width else ""
            if target == ATTRIBUTE or target == CUSTOMER_ATTRIBUTE:
                text = cell.strip() if isinstance(cell, str) else str(cell)
                if text:
                    (attributes if target == ATTRIBUTE else customer)[name] = text
            else:
                values[target] = cell
        return Row(line, values, attributes, customer)

    return split


# --- the importers -----------------------------------------------------------------------------


class Importer(ABC):
    """One kind of file: the fields its columns map to, how a row is read, how a chunk is written."""

    kind: str
    label: Promise
    fields: tuple[ImportField, ...]
    attribute_targets: tuple[tuple[str, Promise], ...] = (
        (ATTRIBUTE, gettext_lazy("Attribute (kept under the column's name)")),
    )

    def prepare(self, reading: Reading) -> Any:
        """What reading rows needs from the database, loaded once per run (touchpoints…)."""
        return None

    @abstractmethod
    def read(self, row: Row, reading: Reading, prepared: Any) -> Any:
        """The row as a record ready to write, or ``RowProblem`` naming the field and the reason."""

    @abstractmethod
    def take(
        self,
        *,
        organisation: Organisation,
        records: list[Any],
        write: bool,
        seen: SeenKeys | None,
        tally: Tally,
        now: datetime,
        reading: Reading,
    ) -> None:
        """Count what a chunk of records creates and updates, and write it unless this is a dry run."""

    def targets(self) -> list[tuple[str, str]]:
        """Every choice a column can be mapped to, for the mapping form."""
        return [(f.name, str(f.label)) for f in self.fields] + [
            (name, str(label)) for name, label in self.attribute_targets
        ]

    def required(self) -> list[ImportField]:
        return [f for f in self.fields if f.required]

    def guess(self, header: Iterable[str]) -> dict[str, str]:
        """A first mapping from the headers' names; any other column is kept as an attribute."""
        synonyms = {header_key(s): f.name for f in self.fields for s in (f.name, *f.synonyms)}
        guessed: dict[str, str] = {}
        for name in header:
            if not name:
                continue
            target = synonyms.get(header_key(name), self.attribute_targets[0][0])
            if target not in guessed.values() or target in dict(self.attribute_targets):
                guessed[name] = target
            else:
                guessed[name] = self.attribute_targets[0][0]
        return guessed


IMPORTERS: dict[str, Importer] = {}


def register_importer(importer: Importer) -> None:
    IMPORTERS[importer.kind] = importer


def importer_for(kind: str) -> Importer:
    try:
        return IMPORTERS[kind]
    except KeyError:
        raise ValidationFailed(
            _("Unknown kind of import %(kind)r: %(kinds)s.") % {"kind": kind, "kinds": ", ".join(IMPORTERS)},
            field="kind",
        ) from None


# --- running one import ------------------------------------------------------------------------


class SeenKeys:
    """Keys met earlier in the file, kept in a private temporary SQLite file.

    A dry run writes nothing, so the database cannot tell it that a customer on
    line 90,000 was already new on line 12; remembering every key in memory
    would grow with the file. SQLite deletes the file when it is closed.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE seen (kind TEXT, key TEXT, PRIMARY KEY (kind, key)) WITHOUT ROWID")

    def first(self, kind: str, keys: Sequence[str]) -> list[str]:
        """The keys not met before, now remembered."""
        earlier: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            earlier.update(
                key
                for (key,) in self._db.execute(
                    f"SELECT key FROM seen WHERE kind = ? AND key IN ({marks})",  # noqa: S608 (only placeholders)
                    [kind, *chunk],
                )
            )
        new = [key for key in dict.fromkeys(keys) if key not in earlier]
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", [(kind, key) for key in new])
        return new

    def close(self) -> None:
        self._db.close()


Progress = Callable[[float, Tally], None]


def run_sheet(
    *,
    organisation: Organisation,
    kind: str,
    sheet: Sheet,
    columns: dict[str, str],
    write: bool,
    now: datetime | None = None,
    progress: Progress | None = None,
    sink: Callable[[BadRow], None] | None = None,
) -> Tally:
    """Read every row of the sheet; a dry run (``write=False``) counts, an import also writes.

    Bad rows are reported with their line, column and reason; the good rows
    of the same chunk are written all the same.
    """
    now = now or timezone.now()
    importer = importer_for(kind)
    check_columns(importer, sheet.header, columns)
    reading = Reading.of(organisation, now)
    prepared = importer.prepare(reading)
    split = row_splitter(sheet.header, columns)
    column_of = {target: name for name, target in columns.items()}
    tally = Tally(sink=sink)
    seen = None if write else SeenKeys()
    records: list[Any] = []

    def flush() -> None:
        with collector_paused():
            importer.take(
                organisation=organisation,
                records=records,
                write=write,
                seen=seen,
                tally=tally,
                now=now,
                reading=reading,
            )
        records.clear()
        if progress is not None:
            progress(sheet.progress(), tally)

    try:
        for line, cells in sheet.rows:
            tally.read += 1
            try:
                records.append(importer.read(split(line, cells), reading, prepared))
            except RowProblem as problem:
                tally.reject(line, column_of.get(problem.field, problem.field), problem.reason)
            if len(records) >= CHUNK_ROWS:
                flush()
        flush()
    finally:
        if seen is not None:
            seen.close()
    return tally


def check_columns(importer: Importer, header: Sequence[str], columns: dict[str, str]) -> None:
    """Every required field mapped once, no field twice, only known fields and columns."""
    targets = dict(importer.targets())
    problems = []
    unknown = [name for name in columns if name not in header]
    if unknown:
        problems.append(_("No column named %(columns)s in the file.") % {"columns": ", ".join(unknown)})
    counts = Counter(target for target in columns.values() if target)
    for target in counts:
        if target not in targets:
            problems.append(_("%(field)r is not a field of this import.") % {"field": target})
        elif counts[target] > 1 and target not in {ATTRIBUTE, CUSTOMER_ATTRIBUTE}:
            problems.append(_("Two columns are mapped to %(field)s.") % {"field": targets[target]})
    for required in importer.required():
        if not counts[required.name]:
            problems.append(_("Map a column to %(field)s.") % {"field": required.label})
    if problems:
        raise ValidationFailed(" ".join(problems), field="columns")


def suggested_columns(*, organisation: Organisation, kind: str, header: Sequence[str]) -> dict[str, str]:
    """The mapping last confirmed for this kind, for the columns this file shares with it; else a guess."""
    importer = importer_for(kind)
    guessed = importer.guess(header)
    remembered = ColumnMapping.objects.filter(organisation=organisation, kind=kind).first()
    if remembered is not None:
        known = dict(importer.targets())
        for name in header:
            target = remembered.columns.get(name)
            if target is not None and (target in known or target == ""):
                guessed[name] = target
    return guessed


def remember_columns(*, organisation: Organisation, kind: str, columns: dict[str, str]) -> ColumnMapping:
    """Keep this mapping for the organisation's next file of this kind."""
    mapping, _created = ColumnMapping.objects.update_or_create(
        organisation=organisation, kind=kind, defaults={"columns": columns, "updated_at": timezone.now()}
    )
    return mapping


# --- what a report says ------------------------------------------------------------------------

_COUNT_LABELS = {
    "customers_created": (gettext_lazy("customers to create"), gettext_lazy("customers created")),
    "customers_updated": (gettext_lazy("customers to update"), gettext_lazy("customers updated")),
    "opt_outs_recorded": (gettext_lazy("opt-outs to record"), gettext_lazy("opt-outs recorded")),
    "interactions_created": (gettext_lazy("interactions to create"), gettext_lazy("interactions created")),
    "interactions_known": (
        gettext_lazy("interactions already there (imported before or twice in the file), left as they are"),
        gettext_lazy("interactions already there (imported before or twice in the file), left as they are"),
    ),
    "repeated": (
        gettext_lazy("rows repeating an earlier row's id (merged into it)"),
        gettext_lazy("rows repeating an earlier row's id (merged into it)"),
    ),
}


def report_lines(report: dict[str, Any], *, done: bool) -> list[tuple[str, int]]:
    """The report's counts in words, in a fixed order, for the page and the command line."""
    counts = report.get("counts", {})
    lines = [(str(_("rows read")), report.get("read", 0))]
    for key, labels in _COUNT_LABELS.items():
        if key in counts:
            lines.append((str(labels[1] if done else labels[0]), counts[key]))
    lines.append((str(_("bad rows (skipped)")), report.get("bad", 0)))
    return lines
