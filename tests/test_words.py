"""Words, not codes: every page, in French and in English, on the demo's data.

The demo (Mutuelle Horizon) holds every kind of code a page can show: touchpoint and team codes,
governance reasons, case outcomes, rule operators, question codes, answer values. Each page of the
URL conf is rendered in both languages, as its manager and its admin see it, and its visible text
(not its attributes or URLs) must hold none of them; a French page must hold no common English
word either. Text a customer wrote, or an SMS sent in another language, is marked with its own
``lang`` and read in that language; an identifier shown as such for integrators sits in ``<code>``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from openpyxl import load_workbook

from avis.accounts.models import Membership
from avis.analytics.queries import analytics_settings
from avis.analytics.reports import period_window, report_html
from avis.audit.services import record
from avis.barometers.models import Barometer, Wave
from avis.barometers.report import wave_report_html
from avis.cases.models import Case, CaseOutcome
from avis.dashboard.demo.company import ADMIN_EMAIL, MANAGER_EMAIL
from avis.dashboard.demo.generator import LoadReport, drop_demo, load_demo
from avis.governance.models import Decision
from avis.interactions.models import Team, Touchpoint
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation, Question, Survey

pytestmark = [pytest.mark.django_db, pytest.mark.engine_independent]
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 2, 8, 22, tzinfo=PARIS)

# Pages that are not pages a person reads: hooks and the API, files (checked below), redirects.
NOT_READ = re.compile(
    r"^(api:|admin:|hooks:|logout$|set_language$|analytics:export$|analytics:report$|audit:export$"
    r"|touchpoints:template$|cases:(take|contacted|resolve|close|reopen|note|root_cause|save_settings)$"
    r"|touchpoints:rotate-secret$|revoke_api_key$|withdraw$|change_role$|privacy:erase$|invite$"
    r"|customers:confirm_import$|channels:send-test$|messaging:simulator-reply$)"
)

# Common words of an English UI; none of them is French. Checked as whole words, case-insensitive.
ENGLISH_WORDS = {
    "the",
    "and",
    "with",
    "without",
    "from",
    "this",
    "that",
    "these",
    "which",
    "every",
    "each",
    "answer",
    "answers",
    "answered",
    "case",
    "cases",
    "customer",
    "customers",
    "period",
    "periods",
    "month",
    "week",
    "weeks",
    "months",
    "year",
    "today",
    "yesterday",
    "open",
    "opened",
    "closed",
    "resolved",
    "solved",
    "compensated",
    "retained",
    "unreachable",
    "left",
    "yes",
    "no",
    "partly",
    "skip",
    "invite",
    "defer",
    "deferred",
    "skipped",
    "invited",
    "touchpoint",
    "touchpoints",
    "survey",
    "surveys",
    "settings",
    "save",
    "cancel",
    "delete",
    "search",
    "filter",
    "download",
    "overview",
    "comments",
    "score",
    "scores",
    "rate",
    "reason",
    "reasons",
    "outcome",
    "outcomes",
    "status",
    "new",
    "high",
    "low",
    "medium",
    "critical",
    "overdue",
    "sent",
    "failed",
    "pending",
    "delivered",
    "none",
    "all",
    "not",
    "only",
    "because",
    "should",
    "would",
    "could",
    "must",
    "have",
    "has",
    "been",
    "were",
    "was",
    "will",
    "per",
    "than",
    "last",
    "next",
    "previous",
    "show",
    "hide",
    "more",
    "less",
    "people",
    "team",
    "teams",
    "about",
    "between",
    "before",
    "after",
    "when",
    "where",
    "who",
    "what",
    "why",
    "how",
}


def _codes(organisation) -> set[str]:  # noqa: ANN001
    """Every code of the organisation a page could print instead of a word."""
    codes = set(Touchpoint.objects.filter(organisation=organisation).values_list("code", flat=True))
    codes |= set(Team.objects.filter(organisation=organisation).values_list("code", flat=True))
    codes |= set(Decision.objects.filter(organisation=organisation).values_list("reason", flat=True))
    codes |= set(
        Question.objects.filter(version__survey__organisation=organisation).values_list("code", flat=True)
    )
    codes |= {c for c in CaseOutcome.values}
    codes |= {"is_true", "is_set", "not_equals", "less_than", "greater_than", "not_resolved", "low_csat"}
    # Single lowercase words that are also English words are left to the French check; a code with
    # an underscore or a dot, a team's code (lowercase, its name is capitalised) or a metric written
    # in lowercase is never a word.
    teams = set(Team.objects.filter(organisation=organisation).values_list("code", flat=True))
    return {c for c in codes if "_" in c or "." in c} | teams | {"nps", "csat"}


class _VisibleText(HTMLParser):
    """The text a reader sees, in the page's language: no scripts, styles, attributes or <code>,
    and no element in another language (a customer's comment, an SMS sent in English)."""

    HIDDEN = {"script", "style", "code", "pre", "template", "title", "noscript"}
    VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr", "col", "area", "base", "track"}

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.stack: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.VOID:
            return
        values = dict(attrs)
        lang = (values.get("lang") or "").split("-")[0]
        hidden = tag in self.HIDDEN or (bool(lang) and lang != self.language) or "hidden" in values
        self.stack.append(hidden or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible_text(html: str, language: str) -> str:
    parser = _VisibleText(language)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def codes_in(text: str, codes: set[str]) -> set[str]:
    found = set()
    for code in codes:
        if re.search(rf"(?<![\w.]){re.escape(code)}(?![\w])", text):
            found.add(code)
    return found


def english_in(text: str) -> set[str]:
    text = re.sub(r"\{\w+\}", "", text)  # a placeholder such as {touchpoint}, written as such
    return {w for w in re.findall(r"\w+", text) if w.isalpha() and w.lower() in ENGLISH_WORDS}


DECIMAL_POINT = re.compile(r"(?<![\w.,/:-])\d+\.\d+(?![\w.])")
ISO_DATE = re.compile(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])")
NUMERIC_DATE = re.compile(r"(?<![\w/])\d{2}/\d{2}/\d{4}(?![\w/])")
MONTHS = (
    "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|janvier|février|mars|avril|mai|juin|juillet|août"
    "|septembre|octobre|novembre|décembre"
)
WORDED_DATE = re.compile(rf"\b\d{{1,2}} (?:{MONTHS})\w*\.? \d{{4}}\b")
US_DATE = re.compile(rf"\b(?:{MONTHS})\w*\.? \d{{1,2}}, \d{{4}}\b|\b\d{{1,2}}(?::\d{{2}})? ?[ap]\.m\.")


def date_problems(text: str) -> set[str]:
    """Month-first or 12-hour dates, ISO dates, or a page writing dates two ways."""
    found = {f"US date {m}" for m in US_DATE.findall(text)} | {
        f"ISO date {m}" for m in ISO_DATE.findall(text)
    }
    found |= {f"month-first {m}" for m in NUMERIC_DATE.findall(text) if int(m[3:5]) > 12}
    if NUMERIC_DATE.search(text) and WORDED_DATE.search(text):
        found.add(f"two date formats: {NUMERIC_DATE.search(text)[0]} and {WORDED_DATE.search(text)[0]}")
    return found


def _patterns() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                found.append((name, "/" + prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return [(name, path) for name, path in found if not NOT_READ.match(name)]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[LoadReport]:  # noqa: ANN001
    with time_machine.travel(NOW, tick=False), django_db_blocker.unblock():
        report = load_demo(customers=150, interactions=900, seed=11)
        yield report
        drop_demo(report.organisation)


def _pages(demo: LoadReport) -> list[str]:
    """Every page of the URL conf, its parameters filled with the demo's own rows."""
    organisation = demo.organisation
    case = Case.objects.filter(organisation=organisation).exclude(outcome="").order_by("id").first()
    values = {
        "survey_id": Survey.objects.filter(organisation=organisation).order_by("id").first().pk,
        "code": "call_center.call",
        "language": "fr",
        "case_id": case.pk,
        "external_id": Decision.objects.filter(organisation=organisation, outcome="skip")
        .first()
        .customer.external_id,
        "membership_id": Membership.objects.filter(organisation=organisation).order_by("id").first().pk,
        # The demo's quarterly barometer, at its last wave (a file download is not read as a page).
        "barometer_id": Barometer.objects.get(organisation=organisation).pk,
        "number": 4,
        "fmt": "csv",
    }
    urls = []
    for _name, path in _patterns():
        names = re.findall(r"<(?:\w+:)?(\w+)>", path)
        if any(n not in values for n in names):
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
        urls.append(url)
    # Pages that show someone in particular once asked: a customer's data, a simulated phone's thread.
    customer = Case.objects.filter(organisation=organisation).order_by("id").first().customer
    phone = OutboundMessage.objects.filter(organisation=organisation, channel="sms").order_by("id").first()
    urls += [f"/settings/privacy/customer/?id={customer.external_id}", "/cases/?status=closed"]
    if phone is not None:
        urls.append(f"/messaging/simulator/thread?phone={phone.recipient.replace('+', '%2B')}")
    return urls + _barometer_pages(demo)


def _barometer_pages(demo: LoadReport) -> list[str]:
    """Every wave's results and fieldwork, and each closed wave against the flow."""
    urls = []
    for barometer_id, number in Wave.objects.filter(organisation=demo.organisation).values_list(
        "barometer_id", "number"
    ):
        urls += [
            f"/barometers/{barometer_id}/waves/{number}/",
            f"/barometers/{barometer_id}/waves/{number}/fieldwork/",
            f"/barometers/{barometer_id}/against-the-flow/?wave={number}",
        ]
    return urls


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_page_speaks_words_not_codes(demo: LoadReport, language: str) -> None:
    """…and writes its dates the reader's way: day first (02/12/2026, never 12/02/2026 for
    2 December), a 24-hour clock, no ISO dates, and one way of writing a date per page."""
    codes = _codes(demo.organisation)
    assert {"call_center.call", "cap_reached", "not_sampled"} <= codes
    problems = {}
    seen_today = []
    with time_machine.travel(NOW, tick=False):
        for email in (MANAGER_EMAIL, ADMIN_EMAIL):
            client = Client()
            client.force_login(Membership.objects.get(user__email=email).user)
            for url in _pages(demo):
                reply = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
                if reply.status_code != 200 or not reply["Content-Type"].startswith("text/html"):
                    continue
                text = visible_text(reply.content.decode(), language)
                # The touchpoints' own settings are where their codes are chosen and shown to senders.
                found = codes_in(text, codes) if not url.startswith("/settings/touchpoints/") else set()
                if language == "fr":
                    found |= english_in(text)
                    found |= {f"decimal point {n}" for n in DECIMAL_POINT.findall(text)}  # 4,20 in French
                found |= date_problems(text)
                if found:
                    problems[f"{email.split('@')[0]} {url}"] = sorted(found)
                seen_today += [url for date_ in NUMERIC_DATE.findall(text) if date_ == "02/12/2026"]
    assert problems == {}
    # The audit trail lists what the demo's loading did today (2 December), day first.
    assert "/settings/audit/" in seen_today


def test_the_pdf_report_speaks_words_not_codes(demo: LoadReport) -> None:
    """The report's HTML is what WeasyPrint lays out into the PDF, word for word."""
    codes = _codes(demo.organisation)
    with time_machine.travel(NOW, tick=False):
        window = period_window("month", date(2026, 10, 15))
        for language in ("en", "fr"):
            text = visible_text(
                report_html(organisation=demo.organisation, window=window, language=language), language
            )
            found = codes_in(text, codes) | (english_in(text) if language == "fr" else set())
            assert found == set(), (language, sorted(found))
            assert "Appel au service adhérents" in text or "Call to member services" in text


def test_the_barometers_wave_reports_speak_words_not_codes(demo: LoadReport) -> None:
    """Each wave's PDF report, from the HTML WeasyPrint lays out, in both languages."""
    codes = _codes(demo.organisation)
    with time_machine.travel(NOW, tick=False):
        for wave in Wave.objects.filter(organisation=demo.organisation).select_related("barometer"):
            for language in ("en", "fr"):
                text = visible_text(wave_report_html(wave=wave, language=language), language)
                found = codes_in(text, codes) | (english_in(text) if language == "fr" else set())
                found |= date_problems(text)
                if language == "fr":
                    found |= {f"decimal point {n}" for n in DECIMAL_POINT.findall(text)}
                assert found == set(), (wave.number, language, sorted(found))


VERDICT_ROW = re.compile(r'<tr class="verdict-(\w+)">(.*?)</tr>', re.S)
ESTIMATE = re.compile(r'<span class="estimate( unreliable)?"[^>]*>.*?n=(\d+)</small>', re.S)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_barometers_pages_claim_nothing_below_the_minimum_n(demo: LoadReport, language: str) -> None:
    """A verdict (significant rise or fall, or no significant change) only where both sides have
    the minimum n; every figure below it greyed, none above it."""
    min_n = analytics_settings(organisation=demo.organisation).min_n
    client = Client()
    client.force_login(Membership.objects.get(user__email=MANAGER_EMAIL).user)
    verdicts = set()
    with time_machine.travel(NOW, tick=False):
        for url in _barometer_pages(demo):
            page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
            for verdict, row in VERDICT_ROW.findall(page):
                verdicts.add(verdict)
                sides = [int(n) for n in re.findall(r"n=(\d+)", row)]
                if verdict in ("rise", "fall", "steady"):
                    assert len(sides) == 2 and min(sides) >= min_n, (url, verdict, sides)
                elif verdict == "too_few":
                    assert min(sides) < min_n, (url, sides)
            for greyed, n in ESTIMATE.findall(page):
                assert bool(greyed) == (int(n) < min_n), (url, n, greyed)
    # The demo's small barometer has waves to compare, with subgroups too small to judge.
    assert "too_few" in verdicts


@pytest.mark.parametrize(
    ("language", "words"), [("fr", ["Point de contact", "Question"]), ("en", ["Touchpoint", "Question"])]
)
def test_export_headers_are_words_in_the_readers_language(
    demo: LoadReport, language: str, words: list[str]
) -> None:
    client = Client()
    client.force_login(Membership.objects.get(user__email=MANAGER_EMAIL).user)
    with time_machine.travel(NOW, tick=False):
        for what in ("answers", "metrics"):
            csv_reply = client.get(f"/analytics/export/{what}.csv", HTTP_ACCEPT_LANGUAGE=language)
            header = next(csv.reader(io.StringIO(csv_reply.content.decode("utf-8-sig"))))
            xlsx_reply = client.get(f"/analytics/export/{what}.xlsx", HTTP_ACCEPT_LANGUAGE=language)
            sheet = load_workbook(BytesIO(xlsx_reply.content), read_only=True).active
            xlsx_header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
            assert header == xlsx_header, what
            assert all("_" not in name for name in xlsx_header), (what, xlsx_header)
            assert words[0] in xlsx_header, (what, xlsx_header)
            if language == "fr":
                assert english_in(" ".join(xlsx_header)) == set(), (what, xlsx_header)


@pytest.mark.parametrize(
    ("zone", "shown"), [("Europe/Paris", "02/12/2026 15:05"), ("Asia/Tokyo", "02/12/2026 23:05")]
)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_pages_show_times_in_the_organisations_time_zone(org, zone: str, shown: str, language: str) -> None:  # noqa: ANN001
    """14:05 UTC is 15:05 in Paris and 23:05 in Tokyo, whatever the server's own zone."""
    org.organisation.default_time_zone = zone
    org.organisation.save(update_fields=["default_time_zone"])
    record(
        organisation=org.organisation,
        action="export.downloaded",
        object_label="answers.csv",
        at=datetime(2026, 12, 2, 14, 5, tzinfo=ZoneInfo("UTC")),
    )
    client = Client()
    client.force_login(Membership.objects.get(user__email=org.admin_email).user)
    page = visible_text(
        client.get("/settings/audit/", HTTP_ACCEPT_LANGUAGE=language).content.decode(), language
    )
    assert shown in page, page[-400:]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_respondents_page_speaks_words_not_codes(demo: LoadReport, language: str) -> None:
    """The customer's own page, in the language of their invitation."""
    invitation = (
        Invitation.objects.filter(organisation=demo.organisation, locale=language, status="sent")
        .order_by("-sent_at")
        .first()
    )
    assert invitation is not None
    # Read while it is open: which invitations are still open at NOW depends on the demo's draws.
    with time_machine.travel(invitation.sent_at + timedelta(minutes=5), tick=False):
        reply = Client().get(f"/s/{invitation.token}")
    assert reply.status_code == 200
    text = visible_text(reply.content.decode(), language)
    found = codes_in(text, _codes(demo.organisation)) | (english_in(text) if language == "fr" else set())
    assert found == set(), text[:600]
