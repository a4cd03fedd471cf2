"""The PDF report of a period, with its charts, emailed once to the organisation's recipients."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from avis.analytics.reports import (
    last_complete_window,
    period_window,
    render_report_pdf,
    report_html,
    report_window,
)
from avis.analytics.services import send_due_reports, update_analytics_settings
from avis.errors import ValidationFailed
from tests.analytics.answering import survey_and_answer
from tests.analytics.test_pages import signed_in
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.clock
def test_last_complete_periods() -> None:
    assert last_complete_window("month", date(2026, 4, 2)).start == date(2026, 3, 1)
    assert last_complete_window("month", date(2026, 1, 15)).start == date(2025, 12, 1)
    week = last_complete_window("week", date(2026, 4, 2))  # a Thursday
    assert (week.start, week.end) == (date(2026, 3, 23), date(2026, 3, 30))


@pytest.mark.clock
def test_a_report_covers_the_week_month_quarter_or_dates_asked_for() -> None:
    today = date(2026, 5, 20)
    assert last_complete_window("quarter", today) == period_window("quarter", date(2026, 2, 10))
    quarter = report_window(period="quarter", today=today, on=date(2025, 11, 30))
    assert (quarter.start, quarter.end) == (date(2025, 10, 1), date(2026, 1, 1))
    month = report_window(period="month", today=today, on=date(2026, 2, 28))
    assert (month.start, month.last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    assert report_window(period="month", today=today).start == date(2026, 4, 1)  # the last complete one
    custom = report_window(period="custom", today=today, since=date(2026, 3, 5), until=date(2026, 3, 19))
    assert (custom.start, custom.end, custom.last_day) == (
        date(2026, 3, 5),
        date(2026, 3, 20),
        date(2026, 3, 19),
    )
    for wrong in (
        {"since": date(2026, 3, 5)},
        {"since": date(2026, 3, 5), "until": date(2026, 3, 1)},
        {"since": date(2025, 1, 1), "until": date(2026, 3, 1)},
    ):
        with pytest.raises(ValidationFailed):
            report_window(period="custom", today=today, **wrong)


def pdf_strings(pdf: bytes) -> bytes:
    """The PDF's compressed streams inflated: its metadata (the title) can be read there."""
    inflated = []
    for found in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            inflated.append(zlib.decompress(found.group(1)))
        except zlib.error:
            continue  # an image or a font: nothing to read
    return b"".join(inflated)


@pytest.fixture
def first_quarter(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 1, 20, 11, tzinfo=PARIS), [10, 9], agent_scores=["5", "4"])
    survey_and_answer(org, datetime(2026, 3, 30, 11, tzinfo=PARIS), [3], agent_scores=["2"])
    survey_and_answer(org, datetime(2026, 4, 2, 11, tzinfo=PARIS), [0, 1, 2, 4])  # the next quarter
    return org


def test_the_report_shows_the_chosen_quarter_and_only_its_answers(first_quarter) -> None:  # noqa: ANN001
    window = report_window(period="quarter", today=date(2026, 11, 2), on=date(2026, 2, 14))
    html = report_html(organisation=first_quarter.organisation, window=window, language="en")
    assert "quarterly report" in html and "From 1 Jan 2026 to 31 Mar 2026." in html
    assert "n=3" in html and "n=7" not in html  # the three answers of January to March, not April's
    assert "change since the previous period" in html
    french = report_html(organisation=first_quarter.organisation, window=window, language="fr")
    assert "Du 1 janvier 2026 au 31 mars 2026." in french
    pdf = render_report_pdf(organisation=first_quarter.organisation, window=window, language="en")
    assert b"2026-01-01 / 2026-03-31" in pdf_strings(pdf)


def test_a_report_on_chosen_dates_has_no_previous_period_to_compare(first_quarter) -> None:  # noqa: ANN001
    window = report_window(
        period="custom", today=date(2026, 11, 2), since=date(2026, 3, 30), until=date(2026, 4, 2)
    )
    html = report_html(organisation=first_quarter.organisation, window=window, language="en")
    assert "n=5" in html and "change since the previous period" not in html


def test_the_page_and_the_api_make_the_report_of_the_period_asked_for(first_quarter, api) -> None:  # noqa: ANN001
    client = signed_in(first_quarter)
    form = client.get("/analytics/report/").content.decode()
    assert 'name="period"' in form and 'value="quarter"' in form and 'name="since"' in form
    response = client.get(
        "/analytics/report.pdf", {"period": "custom", "since": "2026-03-01", "until": "2026-03-31"}
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert "2026-03-01-2026-03-31.pdf" in response["Content-Disposition"]
    assert b"2026-03-01 / 2026-03-31" in pdf_strings(response.content)
    refused = client.get(
        "/analytics/report.pdf", {"period": "custom", "since": "2026-03-31", "until": "2026-03-01"}
    )
    assert refused.status_code == 400 and "The last day comes before the first." in refused.content.decode()

    quarter = api.get("/api/v1/exports/report", {"period": "quarter", "on": "2026-02-14", "language": "en"})
    assert quarter.status_code == 200 and quarter["Content-Type"] == "application/pdf"
    assert "2026-01-01-2026-03-31.pdf" in quarter["Content-Disposition"]
    assert b"2026-01-01 / 2026-03-31" in pdf_strings(quarter.content)
    assert api.get("/api/v1/exports/report", {"period": "custom"}).status_code == 422


def test_the_report_is_a_pdf_with_its_charts(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 9, 3], agent_scores=["5", "4", "2"])
    pdf = render_report_pdf(
        organisation=org.organisation, window=last_complete_window("month", date(2026, 4, 2)), language="fr"
    )
    assert pdf.startswith(b"%PDF")
    # The SVG charts are drawn as vector forms: at least the trend and the funnel.
    assert pdf.count(b"/Subtype /Form") >= 2


def test_the_report_page_serves_it(org) -> None:
    response = signed_in(org).get("/analytics/report.pdf?period=month")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.clock
def test_a_scheduled_report_is_emailed_once(org, smtp_server) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 2])
    update_analytics_settings(
        organisation=org.organisation, report_period="month", report_recipients=["direction@example.fr"]
    )
    now = datetime(2026, 4, 1, 8, tzinfo=UTC)
    assert send_due_reports(now=now) == [org.organisation.slug]
    assert send_due_reports(now=now) == []  # the same month is never sent twice
    (message,) = smtp_server.to("direction@example.fr")
    attachments = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert len(attachments) == 1 and attachments[0].get_payload(decode=True).startswith(b"%PDF")
    assert "2026-03-01" in message["Subject"]


@pytest.mark.clock
def test_a_quarterly_report_is_emailed_once_its_quarter_is_over(org, smtp_server) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 2, 10, 11, tzinfo=PARIS), [10, 2])
    update_analytics_settings(
        organisation=org.organisation, report_period="quarter", report_recipients=["direction@example.fr"]
    )
    assert send_due_reports(now=datetime(2026, 4, 1, 8, tzinfo=UTC)) == [org.organisation.slug]
    assert send_due_reports(now=datetime(2026, 5, 1, 8, tzinfo=UTC)) == []  # still the same last quarter
    (message,) = smtp_server.to("direction@example.fr")
    assert "2026-01-01" in message["Subject"]
    (attachment,) = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert b"2026-01-01 / 2026-03-31" in pdf_strings(attachment.get_payload(decode=True))
