"""The web pages a signed-in user sees, in English and in French."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from avis.surveys.models import Invitation
from tests.factories import PASSWORD
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(org, api) -> Client:  # noqa: ANN001
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    post_interaction(api, "evt-2", touchpoint="branch.visit")
    answer(Invitation.objects.get().token, nps="9", resolved="yes", agent="5")
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def test_pages_need_a_signed_in_user(db) -> None:
    for path in ["/", "/metrics/", "/cases/", "/decisions/"]:
        reply = Client().get(path)
        assert reply.status_code == 302
        assert reply["Location"].startswith("/login/")


def test_overview_shows_each_figure_with_its_interval_and_n(manager) -> None:
    page = manager.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    shown = re.sub(r"<[^>]+>", " ", page)  # the words on screen, not the links' queries
    assert "Call to customer service" in shown and "call_center.call" not in shown
    assert "n=1" in page
    assert "unreliable" in page  # one answer: greyed, never a bare figure


def test_overview_greys_figures_below_the_organisations_own_minimum(org, manager) -> None:
    from avis.analytics.models import AnalyticsSettings

    AnalyticsSettings.objects.create(organisation=org.organisation, min_n=1)
    page = manager.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "below 1 answers it is greyed" in page
    assert "unreliable" not in page  # one answer meets a minimum of one


def test_decisions_page_explains_each_decision_in_french(manager) -> None:
    page = manager.get("/decisions/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Décisions de sollicitation" in page
    assert "Pas sollicité : déjà interrogé le" in page
    history = manager.get("/customers/C-1/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Historique des sollicitations" in history
    assert history.count('class="tag') == 2


def test_metrics_page_lists_periods_with_method(manager) -> None:
    page = manager.get("/metrics/?metric=nps&period=week", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Interval: adjusted Wald interval." in page and "adjusted-wald" not in page
    page = manager.get("/metrics/?metric=response_rate&period=month", HTTP_ACCEPT_LANGUAGE="en")
    assert "Interval: Wilson score interval." in page.content.decode()


def test_login_page_in_french(db) -> None:
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Se connecter" in page


def test_pages_load_their_own_styles_and_htmx(db) -> None:
    page = Client().get("/login/").content.decode()
    for asset in ["/static/avis/app.css", "/static/avis/vendor/htmx.min.js"]:
        assert asset in page
        assert Client().get(asset).status_code == 200
