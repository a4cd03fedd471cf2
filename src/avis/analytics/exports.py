"""Answers and metrics as CSV, XLSX or Parquet, with spreadsheet formulas neutralised.

A comment such as ``=HYPERLINK("http://evil", "click")`` would run as a
formula when the export is opened in a spreadsheet (CSV injection, OWASP).
Every text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with an apostrophe, which spreadsheets show as
text; numbers stay numbers. Parquet is not read by spreadsheets as formulas,
but the same cleaned values go in, so every format says the same thing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

from avis.accounts.models import Organisation
from avis.analytics.queries import Filters, Metric, MetricValue, Period, metric_values
from avis.audit.services import record
from avis.surveys.models import Answer
from avis.tabular import neutralise
from avis.words import column_label

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
ANSWER_COLUMNS = (
    "answer_id",
    "response_id",
    "answered_at",
    "touchpoint",
    "team",
    "agent",
    "channel",
    "question",
    "kind",
    "attribution",
    "number",
    "choice",
    "not_applicable",
    "text",
)
METRIC_COLUMNS = (
    "metric",
    "touchpoint",
    "team",
    "agent",
    "channel",
    "period",
    "period_start",
    "n",
    "value",
    "ci_low",
    "ci_high",
    "method",
    "reliable",
)


def answer_rows(
    *, organisation: Organisation, since: datetime | None = None, until: datetime | None = None
) -> Iterator[tuple]:
    answers = Answer.objects.filter(organisation=organisation).order_by("id")
    if since:
        answers = answers.filter(answered_at__gte=since)
    if until:
        answers = answers.filter(answered_at__lt=until)
    rows = answers.values_list(
        "id",
        "response_id",
        "answered_at",
        "touchpoint__code",
        "team__code",
        "agent__external_id",
        "response__channel",
        "question__code",
        "kind",
        "attribution",
        "number",
        "choice",
        "not_applicable",
        "text",
    )
    for row in rows.iterator(chunk_size=2000):
        yield tuple(
            neutralise(v if v is not None else ("" if i in (4, 5) else None)) for i, v in enumerate(row)
        )


def metric_rows(values: Iterable[MetricValue]) -> Iterator[tuple]:
    for v in values:
        e = v.estimate
        row = (
            v.metric,
            v.touchpoint,
            v.team,
            v.agent,
            v.channel,
            v.period,
            v.period_start,
            e.n,
            e.value,
            e.ci_low,
            e.ci_high,
            e.method,
            v.reliable,
        )
        yield tuple(neutralise(x) for x in row)


def write(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], fmt: Format, *, words: bool = False
) -> bytes:
    """The rows in the format asked, header first (CSV with a BOM so spreadsheets read UTF-8).
    ``words``: a spreadsheet for people, its header in the reader's language (Parquet keeps codes)."""
    if words and fmt != "parquet":
        columns = [column_label(c) for c in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                ["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else v) for v in row]
            )
        return ("\ufeff" + buffer.getvalue()).encode()
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("avis")
        sheet.append(list(columns))
        for row in rows:
            # Excel has no time zones: write the UTC wall time, as the column's name says.
            sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        listed = list(rows)
        table = pa.table({name: [row[i] for row in listed] for i, name in enumerate(columns)})
        out = io.BytesIO()
        pq.write_table(table, out)
        return out.getvalue()
    raise ValueError(fmt)


def export_file(
    *,
    organisation: Organisation,
    what: Literal["answers", "metrics"],
    fmt: Format,
    filters: Filters,
    metric: Metric = "nps",
    period: Period = "month",
    words: bool = False,
) -> bytes:
    """The answers of the window, or the metric per touchpoint and period, in one file (audited)."""
    record(
        organisation=organisation,
        action="export.downloaded",
        object_type=what,
        object_label=f"{what}.{fmt}",
        after={
            "format": fmt,
            "since": filters.since,
            "until": filters.until,
            "metric": metric if what == "metrics" else None,
        },
    )
    if what == "answers":
        return write(
            answer_rows(organisation=organisation, since=filters.since, until=filters.until),
            ANSWER_COLUMNS,
            fmt,
            words=words,
        )
    values = metric_values(
        organisation=organisation,
        metric=metric,
        period=period,
        touchpoint=filters.touchpoint,
        team=filters.team,
        agent=filters.agent,
        channel=filters.channel,
        segment=filters.segment,
        since=filters.since,
        until=filters.until,
    )
    return write(metric_rows(values), METRIC_COLUMNS, fmt, words=words)
