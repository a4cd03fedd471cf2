"""Setting a barometer up without code: the one-page form, its live design preview (sample per stratum,
expected margins overall and per domain) and the refusals shown as sentences; edit; who may."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.barometers.models import Barometer
from avis.interactions.services import create_touchpoint
from avis.surveys.services import create_standard_survey
from tests.barometers.setup import make_barometer, region_base
from tests.factories import PASSWORD
from tests.helpers import open_all_day
from tests.test_words import english_in, visible_text

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=ZoneInfo("Europe/Paris"))


def _client(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def _form(survey_id: int, **changes: str) -> dict[str, str]:
    form = {
        "name_fr": "Baromètre relation",
        "name_en": "Relationship barometer",
        "survey_id": str(survey_id),
        "metric": "nps",
        "mode": "email",
        "scope-attr-0": "contract",
        "scope-op-0": "equals",
        "scope-value-0": "active",
        "stratum-attr-0": "region",
        "stratum-attr-1": "customer_since",
        "stratum-bands-1": "10",
        "stratum-years-1": "on",
        "margin": "20",
        "domain": "region",
        "domain_margin": "30",
        "confidence": "95",
        "allocation": "proportional",
        "minimum_per_stratum": "0",
        "expected_response_rate": "50",
        "recurrence": "quarterly",
        "fieldwork_days": "14",
        "reminder_max": "2",
        "reminder_gap_days": "3",
    }
    return form | changes


def _text(response) -> str:  # noqa: ANN001
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def survey(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation, quarantine_days=0)
    region_base(org.organisation, {"north": 300, "south": 200})
    touchpoint = create_touchpoint(
        organisation=org.organisation, code="barometer.relation", name_fr="Relation", name_en="Relationship"
    )
    return create_standard_survey(organisation=org.organisation, touchpoint=touchpoint, ask_effort=True)


@time_machine.travel(NOW, tick=False)
def test_the_preview_shows_the_sample_per_stratum_and_expected_margins_nothing_saved(org, survey) -> None:
    admin = _client(org.admin_email)
    response = admin.post("/barometers/preview/", _form(survey.id), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = _text(response)
    assert "500 customers in scope, 500 left to draw from" in text
    # region × tenure band: north and south, under and over ten years.
    for stratum in ("north × <10", "north × ≥10", "south × <10", "south × ≥10"):
        assert stratum in text
    margin = float(re.search(r"Expected margin overall ± ([0-9.]+)", text).group(1))
    assert 0 < margin <= 20
    assert "region = north" in text and "region = south" in text and "goal ± 30" in text
    assert not Barometer.objects.filter(organisation=org.organisation).exists()


@time_machine.travel(NOW, tick=False)
def test_refusals_are_sentences_in_the_preview(org, survey) -> None:
    admin = _client(org.admin_email)
    # Nobody is "ended": the scope is empty.
    text = _text(admin.post("/barometers/preview/", _form(survey.id, **{"scope-value-0": "ended"})))
    assert "No wave could be drawn from this set-up: No customer is in the barometer's scope" in text
    # ±0.5 on 500 customers cannot be had.
    text = _text(admin.post("/barometers/preview/", _form(survey.id, margin="0.5", domain="")))
    assert "No wave could be drawn from this set-up" in text and "cannot give ±0.5" in text
    # A field typed wrong: said, with no figures.
    text = _text(admin.post("/barometers/preview/", _form(survey.id, margin="three")))
    assert "The margin is a number of points" in text and "Customers to invite" not in text


@time_machine.travel(NOW, tick=False)
def test_an_analyst_creates_then_edits_a_barometer_on_one_page(org, survey) -> None:
    admin = _client(org.admin_email)
    assert admin.get("/barometers/new/").status_code == 200
    response = admin.post("/barometers/new/", _form(survey.id))
    assert response.status_code == 302
    barometer = Barometer.objects.get(organisation=org.organisation)
    assert barometer.strata == [
        {"attribute": "region"},
        {"attribute": "customer_since", "bands": [10], "years_since": True},
    ]
    assert barometer.scope == [{"attribute": "contract", "operator": "equals", "value": "active"}]
    assert barometer.expected_response_rate == 0.5 and barometer.domain_margin == 30
    page = _text(admin.get(response["Location"]))
    assert "Expected margin overall" in page and "north × <10" in page
    response = admin.post(response["Location"], _form(survey.id, margin="15", recurrence="monthly"))
    assert response.status_code == 302
    barometer.refresh_from_db()
    assert barometer.margin == 15 and barometer.recurrence == "monthly"
    # Every wrong field at once, nothing saved.
    response = admin.post(f"/barometers/{barometer.id}/", _form(survey.id, margin="", fieldwork_days="0"))
    assert response.status_code == 422
    text = _text(response)
    assert "Nothing was saved" in text and "The margin is a number of points" in text
    assert "A whole number from 1 to 366" in text
    barometer.refresh_from_db()
    assert barometer.margin == 15
    assert "Relationship barometer" in _text(admin.get("/barometers/"))


def test_managers_read_the_list_but_do_not_set_up_and_no_tenant_sees_another(org, other_org) -> None:
    barometer = make_barometer(org.organisation)
    manager = _client(org.manager_email)
    assert manager.get("/barometers/").status_code == 200
    assert manager.get("/barometers/new/").status_code == 403
    assert manager.get(f"/barometers/{barometer.id}/").status_code == 403
    stranger = _client(other_org.admin_email)
    assert "Yearly barometer" not in _text(stranger.get("/barometers/"))
    assert stranger.get(f"/barometers/{barometer.id}/").status_code == 404


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_set_up_pages_speak_the_readers_language(org, survey, language) -> None:  # noqa: ANN001
    barometer = make_barometer(org.organisation, code="barometer.other", domain="region", domain_margin=30.0)
    admin = _client(org.admin_email)
    for reply in (
        admin.get("/barometers/", HTTP_ACCEPT_LANGUAGE=language),
        admin.get("/barometers/new/", HTTP_ACCEPT_LANGUAGE=language),
        admin.get(f"/barometers/{barometer.id}/", HTTP_ACCEPT_LANGUAGE=language),
    ):
        assert reply.status_code == 200
        # Survey names are the organisation's own (this fixture's are English).
        page = re.sub(r'<select id="survey_id".*?</select>', "", reply.content.decode(), flags=re.S)
        text = visible_text(page, language)
        if language == "fr":
            assert not english_in(text), english_in(text)
            assert "Marge attendue, ensemble" in text or "Paramétrer" in text or "Nouveau" in text
