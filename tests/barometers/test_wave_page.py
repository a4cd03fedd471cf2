"""A wave's results page as a manager reads it: design-based figures with n, interval and margin,
per subgroup, the weight report, the AAPOR rates with e; in French and English; tenants apart."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from avis.barometers.against_flow import against_flow
from avis.barometers.results import wave_results
from tests.analytics.answering import survey_and_answer
from tests.barometers.test_wave_report import closed_wave  # noqa: F401 — the fixture
from tests.factories import PASSWORD
from tests.test_words import english_in, visible_text

pytestmark = pytest.mark.django_db(transaction=True)


def _client(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def _text(content: bytes) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content.decode())))


def test_the_manager_reads_a_waves_design_based_figures(org, other_org, closed_wave) -> None:  # noqa: F811
    url = f"/barometers/{closed_wave.barometer_id}/waves/{closed_wave.number}/"
    manager = _client(org.manager_email)
    reply = manager.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 200
    text = _text(reply.content)
    results = wave_results(wave=closed_wave)
    nps = next(f for f in results.figures if f.question.kind == "nps")
    overall = nps.overall
    shown = f"{overall.value:.0f} [{overall.ci_low:.0f} ; {overall.ci_high:.0f}]"
    shown += f" ± {overall.margin:.1f} · n={overall.n}"
    assert shown in text, shown
    north = nps.domains["region"]["north"]
    assert f"{north.value:.0f} [{north.ci_low:.0f} ; {north.ci_high:.0f}]" in text
    report = results.report
    assert f"Effective sample size (Kish) {report.kish_n:.0f}" in text
    assert f"Design effect of the weights {report.design_effect:.2f}" in text
    assert "RR1" in text and "COOP1" in text and "e = " in text
    assert "No earlier closed wave to compare with." in text
    french = manager.get(url, HTTP_ACCEPT_LANGUAGE="fr")
    seen = visible_text(french.content.decode(), "fr")
    assert not english_in(seen), english_in(seen)
    assert _client(other_org.manager_email).get(url).status_code == 404


def test_the_barometer_against_the_flow_per_touchpoint_and_region(org, closed_wave) -> None:  # noqa: F811
    barometer = closed_wave.barometer
    closed_wave.status = "closed"
    closed_wave.save(update_fields=["status"])
    other = next(code for code in org.touchpoints if code != barometer.survey.touchpoint.code)
    survey_and_answer(
        org, timezone.now(), [10, 9, 2, 10, 9, 8, 3], touchpoint=other, attributes={"region": "north"}
    )
    found = against_flow(wave=closed_wave)
    nps = next(m for m in found.metrics if m.metric == "nps")
    flow = nps.overall.flow
    assert flow is not None and flow.n == 7
    # Only the other touchpoint's answers: the barometer's own are left out of the flow.
    assert [side.label for side in nps.touchpoints] == [other]
    ours = wave_results(wave=closed_wave)
    barometer_nps = next(f for f in ours.figures if f.question.kind == "nps").overall
    assert nps.overall.difference.value == pytest.approx(barometer_nps.value - flow.value)
    north = next(side for side in nps.regions if side.label == "north")
    assert north.flow.n == 7 and north.barometer.n == 3
    reply = _client(org.manager_email).get(f"/barometers/{barometer.id}/against-the-flow/")
    assert reply.status_code == 200
    text = _text(reply.content)
    assert "The barometer measures" in text and "The flow measures" in text
    difference = nps.overall.difference
    assert f"{difference.value:+.1f} [{difference.ci_low:.1f} ; {difference.ci_high:.1f}]" in text
    french = _client(org.manager_email).get(
        f"/barometers/{barometer.id}/against-the-flow/", HTTP_ACCEPT_LANGUAGE="fr"
    )
    seen = visible_text(french.content.decode(), "fr")
    assert not english_in(seen), english_in(seen)


@pytest.fixture(autouse=True)
def _a_weekday_morning_in_paris():
    """The wave's dates and deadlines are read from one set instant, not the machine's clock."""
    import time_machine

    with time_machine.travel(datetime(2026, 12, 2, 9, 30, tzinfo=UTC), tick=True):
        yield
