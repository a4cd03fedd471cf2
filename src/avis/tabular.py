"""Reading a spreadsheet a person uploaded: CSV or XLSX, one row at a time, whatever Excel wrote.

Files come from CRMs and from Excel on French desktops: UTF-8 with or without
a byte-order mark, Windows-1252 (what "CSV (séparateur: point-virgule)" saves),
``;`` rather than ``,``, dates as ``02/12/2026 14:05``. Rows are streamed, so a
file of any size is read in bounded memory; a file that cannot be read is
refused with a reason a person can act on, never half-read.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from avis.errors import ValidationFailed

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}
_SEPARATORS = (";", ",", "\t", "|")
_HEAD = 64 * 1024
# csv's default limit is 128 KiB a cell; a cell is a value, never a document.
csv.field_size_limit(1024 * 1024)


class UnreadableFile(ValidationFailed):
    """The file as a whole cannot be read: wrong kind, too big, not text, no header."""


def file_format(name: str, size: int | None = None) -> str:
    """``csv`` or ``xlsx`` from the file's name and size, before a byte of it is read."""
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        raise UnreadableFile(
            _("%(name)s is an old Excel file (.xls): save it as .xlsx or as CSV.") % {"name": name},
            field="file",
        )
    if suffix not in FORMATS:
        raise UnreadableFile(
            _("%(name)s is neither a CSV nor an XLSX file.") % {"name": name or _("The file")}, field="file"
        )
    if size is not None and size > max_file_bytes():
        raise too_big(size)
    return FORMATS[suffix]


def max_file_bytes() -> int:
    """The largest file accepted (``AVIS_IMPORT_MAX_MB``, 200 MB by default)."""
    return int(settings.IMPORT_MAX_MB) * 1024 * 1024


def too_big(size: int | None = None) -> UnreadableFile:
    limit = settings.IMPORT_MAX_MB
    if size is None:
        message = _("The file is larger than %(limit)s MB. Split it into several files.") % {"limit": limit}
    else:
        message = _("The file is %(size)s MB; the limit is %(limit)s MB. Split it into several files.") % {
            "size": size // (1024 * 1024),
            "limit": limit,
        }
    return UnreadableFile(message, field="file")


@dataclass
class Sheet:
    """An opened file: its header, how it was read, and its rows as ``(line number, cells)``."""

    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    format: str
    encoding: str = ""
    separator: str = ""
    # Share of the file read so far, from 0 to 1: bytes for CSV, rows for XLSX.
    _done: list[float] = field(default_factory=lambda: [0.0])
    _closers: list[Any] = field(default_factory=list)

    def progress(self) -> float:
        return min(self._done[0], 1.0)

    def close(self) -> None:
        for closer in self._closers:
            closer.close()

    def __enter__(self) -> Sheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sheet(path: Path, *, name: str | None = None) -> Sheet:
    """Open a CSV or XLSX file for reading row by row; the first non-empty row is the header."""
    name = name or path.name
    kind = file_format(name, path.stat().st_size)
    with path.open("rb") as probe:
        head = probe.read(_HEAD)
    if kind == "xlsx":
        if not head.startswith(b"PK\x03\x04"):
            raise UnreadableFile(_("%(name)s is not an Excel workbook.") % {"name": name}, field="file")
        return _open_xlsx(path, name)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            _("%(name)s is an Excel workbook, not a CSV: save it as .xlsx or as CSV.") % {"name": name},
            field="file",
        )
    return _open_csv(path, head, name)


# --- CSV ---------------------------------------------------------------------------------------


def _encoding_of(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _decode_lines(raw: IO[bytes], encoding: str, done: list[float], size: int) -> Iterator[str]:
    """Each line as text; a line that is not UTF-8 in a UTF-8 file is read as Windows-1252.

    Excel appends rows in its own encoding to files it did not write, so one
    file may hold both; Windows-1252 leaves five bytes undefined, which
    Latin-1 reads instead. Nothing is ever refused for its bytes.
    """
    read = 0
    first = True
    for line in raw:
        read += len(line)
        done[0] = read / size
        if first and encoding == "utf-8-sig":
            line = line.removeprefix(codecs.BOM_UTF8)
        first = False
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                yield line.decode("cp1252")
            except UnicodeDecodeError:
                yield line.decode("latin-1")


def _separator(header_line: str) -> str:
    outside = re.sub(r'"[^"]*"', "", header_line)
    counts = {sep: outside.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _open_csv(path: Path, head: bytes, name: str) -> Sheet:
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(_("%(name)s is not a text file.") % {"name": name}, field="file")
    encoding = _encoding_of(head)
    size = max(path.stat().st_size, 1)
    done = [0.0]
    raw = path.open("rb")
    if encoding == "utf-16":
        text = path.open(encoding="utf-16", newline="")
        raw.close()
        lines: Iterator[str] = iter(text)
        closers: list[Any] = [text]
    else:
        lines = _decode_lines(raw, encoding, done, size)
        closers = [raw]
    # The header decides the separator; the csv reader then reads every line, the header included.
    header_line = ""
    for header_line in lines:
        if header_line.strip():
            break
    separator = _separator(header_line)
    reader = csv.reader(_chain_first(header_line, lines), delimiter=separator)
    try:
        header = [cell.strip() for cell in next(reader, [])]
    except csv.Error as exc:
        problem = _unreadable_line(name, 1, exc)
        for closer in closers:
            closer.close()
        raise problem from None
    if not any(header):
        for closer in closers:
            closer.close()
        raise UnreadableFile(_("%(name)s is empty: it has no header row.") % {"name": name}, field="file")

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        try:
            for number, cells in enumerate(reader, start=2):  # noqa: B007 (the line of a csv.Error)
                if any(cell.strip() for cell in cells):
                    yield number, cells
        except csv.Error as exc:
            raise _unreadable_line(name, number + 1, exc) from None
        done[0] = 1.0

    label = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "cp1252": "Windows-1252", "utf-16": "UTF-16"}
    return Sheet(header, rows(), "csv", label[encoding], separator, done, closers)


def _unreadable_line(name: str, line: int, problem: Exception) -> UnreadableFile:
    """A line the CSV reader cannot split (a cell of megabytes, a stray byte of a binary file)."""
    return UnreadableFile(
        _("Line %(line)s of %(name)s cannot be read as CSV (%(problem)s).")
        % {"line": line, "name": name, "problem": problem},
        field="file",
    )


def _chain_first(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


# --- XLSX --------------------------------------------------------------------------------------


def _open_xlsx(path: Path, name: str) -> Sheet:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a corrupt zip, a workbook openpyxl cannot parse
        raise UnreadableFile(
            _("%(name)s cannot be read as an Excel workbook (%(problem)s).") % {"name": name, "problem": exc},
            field="file",
        ) from None
    sheet = workbook.worksheets[0]
    if not hasattr(sheet, "iter_rows"):  # a chart sheet first: no cells to read
        workbook.close()
        raise UnreadableFile(
            _("The first sheet of %(name)s holds no table: put the rows in the first sheet.")
            % {"name": name},
            field="file",
        )
    total = max(sheet.max_row or 1, 1)
    done = [0.0]
    values = sheet.iter_rows(values_only=True)
    header: list[str] = []
    for row in values:
        if any(cell not in (None, "") for cell in row):
            header = [_cell_text(cell).strip() for cell in row]
            break
    if not header:
        workbook.close()
        raise UnreadableFile(_("%(name)s is empty: it has no header row.") % {"name": name}, field="file")

    def rows() -> Iterator[tuple[int, list[Any]]]:
        for number, row in enumerate(values, start=2):
            done[0] = number / total
            if any(cell not in (None, "") for cell in row):
                yield number, [_cell(cell) for cell in row]
        done[0] = 1.0

    return Sheet(header, rows(), "xlsx", "", "", done, [workbook])


def _cell(value: Any) -> Any:
    """Dates stay dates; a whole number typed in a cell (a phone, an id) reads without ``.0``."""
    if isinstance(value, datetime | date | time):
        return value
    return _cell_text(value)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- moments written the local way -------------------------------------------------------------

_MOMENT = re.compile(
    r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})(?:[ T]+(\d{1,2})[:hH](\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
)
# Countries that write the month first (02/12/2026 is 12 February there).
MONTH_FIRST_REGIONS = frozenset({"US", "PH", "CA", "FM", "MH", "PW"})


def read_moment(value: Any, *, zone: ZoneInfo, month_first: bool = False) -> datetime:
    """An aware moment from a cell: ISO 8601, or a local date and time (``02/12/2026 14:05``).

    A moment without an offset is read in ``zone``, the organisation's.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    text = str(value).strip()
    if not text:
        raise ValueError(_("the date is empty"))
    match = _MOMENT.fullmatch(text)
    if match is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                _("%(value)r is not a date (expected e.g. 02/12/2026 14:05 or 2026-12-02T14:05)")
                % {"value": text}
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    first, second, third, hour, minute, seconds = match.groups()
    if len(first) == 4:  # 2026-12-02 or 2026/12/02: year first is never ambiguous
        year, month, day = int(first), int(second), int(third)
    else:
        day, month = (int(second), int(first)) if month_first else (int(first), int(second))
        year = int(third)
        if len(third) == 2:
            year += 2000
        elif len(third) != 4:
            raise ValueError(_("%(value)r has no four-digit year") % {"value": text})
    try:
        return datetime(year, month, day, int(hour or 0), int(minute or 0), int(seconds or 0), tzinfo=zone)
    except ValueError:
        raise ValueError(_("%(value)r is not a real date") % {"value": text}) from None


# What a spreadsheet runs as a formula when a cell starts with it (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula, made plain text; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
