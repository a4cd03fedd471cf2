"""The PDF report of a period, with its charts, emailed once to the organisation's recipients."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from avis.analytics.reports import last_complete_window, render_report_pdf
from avis.analytics.services import send_due_reports, update_analytics_settings
from tests.analytics.answering import survey_and_answer
from tests.analytics.test_pages import signed_in
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")


def test_last_complete_periods() -> None:
    assert last_complete_window("month", date(2026, 4, 2)).start == date(2026, 3, 1)
    assert last_complete_window("month", date(2026, 1, 15)).start == date(2025, 12, 1)
    week = last_complete_window("week", date(2026, 4, 2))  # a Thursday
    assert (week.start, week.end) == (date(2026, 3, 23), date(2026, 3, 30))


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
