"""A real change of the questionnaire between two waves: the NPS question is reworded and published
as a new version; the series shows a break (results page and API) and the two waves are not
compared as a change, however far apart their figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.analytics.models import AnalyticsSettings
from avis.barometers.models import SampledCase, Wave
from avis.barometers.services import close_wave, draw_wave, plan_wave, start_fieldwork
from avis.barometers.wave_page import wave_page
from avis.messaging import dispatch
from avis.messaging.models import MessageStatus, OutboundMessage
from avis.surveys.design import DraftChanges, QuestionTexts, change_draft, publish_survey
from avis.surveys.services import submit_response
from tests.barometers.setup import make_barometer, region_base
from tests.factories import PASSWORD
from tests.helpers import open_all_day
from tests.test_words import english_in, visible_text

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
FIRST = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)
REWORDED = {
    "fr": "Conseilleriez-vous {company} à un ami ou un collègue ? (0 = jamais, 10 = sans hésiter)",
    "en": "Would you advise a friend or colleague to join {company}? (0 = never, 10 = without a doubt)",
}


def run_wave(org, barometer, *, at: datetime, nps: str) -> Wave:  # noqa: ANN001
    """Plan, draw, send, answer (every sampled customer gives ``nps``) and close one wave at ``at``."""
    organisation = org.organisation
    wave = plan_wave(
        organisation=organisation,
        barometer_id=barometer.id,
        frame_date=None if barometer.waves.exists() else at.date(),
    )
    draw_wave(
        organisation=organisation, barometer_id=barometer.id, number=wave.number, seed=wave.number, now=at
    )
    with time_machine.travel(at, tick=False):
        start_fieldwork(organisation=organisation, barometer_id=barometer.id, number=wave.number, now=at)
        # Tests run in a transaction that never commits: the outbox is handed over by hand.
        pending = OutboundMessage.objects.filter(status=MessageStatus.PENDING)
        dispatch.deliver_messages(message_ids=list(pending.values_list("id", flat=True)))
    for case in SampledCase.objects.filter(wave=wave).select_related("invitation"):
        submit_response(
            token=case.invitation.token,
            answers={"nps": nps, "resolved": "yes", "agent": "5"},
            now=at + timedelta(days=1),
        )
    return close_wave(
        organisation=organisation, barometer_id=barometer.id, number=wave.number, now=at + timedelta(days=15)
    )


@pytest.fixture
def reworded_between_waves(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation, quarantine_days=0)
    AnalyticsSettings.objects.create(organisation=org.organisation, min_n=5)
    region_base(org.organisation, {"north": 30, "south": 30})
    barometer = make_barometer(org.organisation, now=FIRST, margin=30.0, expected_response_rate=1.0)
    first = run_wave(org, barometer, at=FIRST, nps="10")
    survey = barometer.survey
    change_draft(
        organisation=org.organisation,
        survey_id=survey.id,
        changes=DraftChanges(texts={"nps": QuestionTexts(prompt=REWORDED)}),
    )
    publish_survey(organisation=org.organisation, survey_id=survey.id, now=FIRST + timedelta(days=40))
    second = run_wave(org, barometer, at=FIRST.replace(month=6), nps="2")
    return first, second


def test_a_reworded_question_breaks_the_series_and_is_not_compared(org, api, reworded_between_waves) -> None:  # noqa: ANN001
    first, second = reworded_between_waves
    assert first.version_id != second.version_id
    page = wave_page(wave=second)
    nps = next(f for f in page.results.figures if f.question.code == "nps")
    assert nps.overall.n >= 5 and nps.overall.value == pytest.approx(
        -100
    )  # from +100: as far apart as can be
    assert page.previous == first and page.reworded and page.changes == []
    assert [p.break_before for p in page.trends["nps"]] == [False, True]
    assert [p.break_before for p in page.trends["agent"]] == [False, False]

    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    url = f"/barometers/{second.barometer_id}/waves/{second.number}/"
    text = visible_text(client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode(), "en")
    change = text.split("Change since the previous wave", 1)[1].split("Across waves", 1)[0]
    assert "the question was worded differently at wave 1" in change
    assert "significant" not in change and "Verdict" not in change
    assert "The dashed line marks a change of the question's wording" in text
    french = visible_text(client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode(), "fr")
    assert "formulée autrement à la vague 1" in french and not english_in(french), english_in(french)

    series = api.get(f"/api/v1/barometers/{second.barometer_id}/series").json()
    by_question = {s["question"]: s["points"] for s in series}
    assert [(p["wave"], p["wording_changed"]) for p in by_question["nps"]] == [(1, False), (2, True)]
    assert [p["estimate"]["value"] for p in by_question["nps"]] == pytest.approx([100, -100])
    assert not any(p["wording_changed"] for p in by_question["agent"])
