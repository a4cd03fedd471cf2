"""A wave's answers with their weights as CSV, XLSX and Parquet, by the API; and its PDF report."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from avis.audit.models import AuditEvent
from tests.barometers.test_wave_report import closed_wave  # noqa: F401 — the fixture
from tests.pdf_text import pdf_text, squeezed

pytestmark = pytest.mark.django_db(transaction=True)
COLUMNS = [
    "case",
    "stratum",
    "region",
    "disposition",
    "inclusion_probability",
    "design_weight",
    "weight",
    "nps",
    "resolved",
    "agent",
    "comment",
]


def url(wave, what: str) -> str:  # noqa: ANN001
    return f"/api/v1/barometers/{wave.barometer_id}/waves/{wave.number}/{what}"


def test_each_respondent_comes_with_its_weights_in_every_format(closed_wave, api) -> None:  # noqa: ANN001, F811
    response = api.get(url(closed_wave, "answers"), {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"wave-{closed_wave.number}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == COLUMNS and len(rows) == 6  # five respondents
    by_region: dict[str, list[list[str]]] = {"north": [], "south": []}
    for row in rows[1:]:
        by_region[row[2]].append(row)
    assert [r[7] for r in by_region["north"]] == ["9", "10", "6"] and [r[7] for r in by_region["south"]] == [
        "3",
        "8",
    ]
    # 1/π: 1000/5 and 500/3; after non-response within strata: 1000/3 and 250; they add up to the frame
    assert {float(r[5]) for r in by_region["north"]} == {200.0}
    assert {round(float(r[6]), 4) for r in by_region["north"]} == {333.3333}
    assert {round(float(r[5]), 4) for r in by_region["south"]} == {166.6667}
    assert {float(r[6]) for r in by_region["south"]} == {250.0}
    assert round(sum(float(r[6]) for r in rows[1:]), 6) == 1500
    assert {r[3] for r in rows[1:]} == {"I"}
    assert by_region["north"][0][10] == '\'=HYPERLINK("http://x")'  # a formula neutralised

    book = load_workbook(io.BytesIO(api.get(url(closed_wave, "answers"), {"format": "xlsx"}).content))
    sheet = list(book.active.values)
    assert list(sheet[0]) == COLUMNS and len(sheet) == 6

    table = pq.read_table(io.BytesIO(api.get(url(closed_wave, "answers"), {"format": "parquet"}).content))
    assert table.column_names == COLUMNS
    assert round(sum(table.column("weight").to_pylist()), 6) == 1500
    assert sorted(table.column("nps").to_pylist()) == [3, 6, 8, 9, 10]
    assert AuditEvent.objects.filter(action="export.downloaded").count() == 3


def test_the_report_by_the_api_in_the_language_asked(closed_wave, api) -> None:  # noqa: ANN001, F811
    response = api.get(url(closed_wave, "report"), {"language": "en"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "wave-1-en.pdf" in response["Content-Disposition"]
    assert squeezed("Dispositions and response rates") in squeezed(pdf_text(response.content))
    assert api.get(url(closed_wave, "report"), {"language": "de"}).status_code == 422


def test_another_organisation_reads_neither_the_report_nor_the_answers(closed_wave, other_org) -> None:  # noqa: ANN001, F811
    from django.test import Client

    theirs = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert theirs.get(url(closed_wave, "report")).status_code == 404
    assert theirs.get(url(closed_wave, "answers")).status_code == 404


def test_the_wave_gives_dispositions_and_rates_per_stratum(closed_wave, api) -> None:  # noqa: ANN001, F811
    wave = api.get(f"/api/v1/barometers/{closed_wave.barometer_id}/waves/{closed_wave.number}").json()
    assert wave["dispositions_final"] is True and wave["e"] == 1.0 and wave["e_method"] == "known_share"
    north, south = sorted(wave["strata"], key=lambda s: s["key"])
    assert north["dispositions"]["I"] == 3 and north["dispositions"]["UH"] == 2
    assert north["rates"]["RR1"] == 0.6
    assert south["rates"]["RR3"] == pytest.approx(2 / 3) and south["rates"]["COOP1"] == 1.0
    assert wave["total"]["rates"]["RR1"] == 0.625 and wave["total"]["dispositions"]["I"] == 5


def test_the_team_downloads_the_report_and_the_answers_from_the_pages(closed_wave, org, other_org) -> None:  # noqa: ANN001, F811
    from tests.analytics.test_pages import signed_in

    client = signed_in(org)
    base = f"/barometers/{closed_wave.barometer_id}/waves/{closed_wave.number}"
    page = client.get(f"{base}/").content.decode()
    assert f'href="{base}/report.pdf?language=fr"' in page and f'href="{base}/answers.parquet"' in page
    report = client.get(f"{base}/report.pdf", {"language": "fr"})
    assert report.status_code == 200 and report["Content-Type"] == "application/pdf"
    assert squeezed("Statuts finaux et taux de réponse") in squeezed(pdf_text(report.content))
    answers = client.get(f"{base}/answers.xlsx")
    assert answers.status_code == 200 and "wave-1.xlsx" in answers["Content-Disposition"]
    assert client.get(f"{base}/answers.exe").status_code == 404
    assert client.get(f"{base}/report.pdf", {"language": "de"}).status_code == 404
    assert signed_in(other_org).get(f"{base}/report.pdf").status_code == 404
