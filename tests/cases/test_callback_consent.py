from __future__ import annotations

import pytest
from django.test import Client

from avis.cases.models import Case
from avis.cases.services import save_alert_rule
from avis.surveys.services import create_standard_survey
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def asks_callback(org) -> None:  # noqa: ANN001
    create_standard_survey(
        organisation=org.organisation, touchpoint=org.touchpoints["call_center.call"], ask_callback=True
    )


@pytest.fixture
def manager(org) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def test_the_respondent_page_asks_for_a_call_back(org, api, asks_callback) -> None:
    from avis.surveys.models import Invitation
    from tests.helpers import open_all_day, post_interaction

    open_all_day(org.organisation)
    post_interaction(api, "evt-ask")
    page = Client().get(f"/s/{Invitation.objects.get().token}", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Pouvons-nous vous rappeler" in page
    assert "Le matin" in page


def test_a_customer_who_said_no_is_not_called(org, asks_callback, respond, manager) -> None:
    respond(nps=2, callback="no")
    case = Case.objects.get()
    assert case.do_not_call
    page = manager.get(f"/cases/{case.id}/").content.decode()
    assert "Do not call" in page
    refused = manager.post(f"/cases/{case.id}/contacted", {"channel": "phone"}, follow=True).content.decode()
    assert "asked not to be called back" in refused
    case.refresh_from_db()
    assert case.first_contact_at is None
    manager.post(f"/cases/{case.id}/contacted", {"channel": "email", "note": "Réponse écrite"})
    case.refresh_from_db()
    assert case.status == "contacted"


def test_the_case_shows_the_preferred_channel_and_time(org, asks_callback, respond, manager) -> None:
    respond(nps=3, callback="yes", callback_channel="sms", callback_time="evening")
    case = Case.objects.get()
    assert not case.do_not_call
    page = manager.get(f"/cases/{case.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "agrees to be called back" in page
    assert '<strong data-channel="sms">Text message</strong>' in page
    assert '<strong data-time="evening">Evening</strong>' in page
    assert '<option value="sms" selected>' in page  # the contact form starts from the customer's choice


def test_the_api_gives_the_call_back_answer_channel_and_time(api, asks_callback, respond) -> None:
    respond(nps=3, callback="yes", callback_channel="email", callback_time="morning")
    case = Case.objects.get()
    said = api.get(f"/api/v1/cases/{case.id}").json()["callback"]
    assert said == {"consent": "yes", "channel": "email", "time": "morning"}


def test_a_call_cannot_be_recorded_under_another_name(api, asks_callback, respond) -> None:
    respond(nps=2, callback="no")
    case = Case.objects.get()
    for channel in ("call", "Phone", "telephone"):
        reply = api.patch(
            f"/api/v1/cases/{case.id}",
            {"status": "contacted", "channel": channel},
            content_type="application/json",
        )
        assert reply.status_code == 422, channel
    case.refresh_from_db()
    assert case.first_contact_at is None


def test_a_call_back_request_opens_a_case_when_the_rule_is_on(org, asks_callback, respond) -> None:
    respond(nps=9, resolved="yes", callback="yes")
    assert not Case.objects.exists()
    save_alert_rule(organisation=org.organisation, changes={"condition": "callback_requested", "severity": 1})
    respond(customer="C-2", nps=9, resolved="yes", callback="yes")
    assert Case.objects.get().reasons == ["callback_requested"]


def test_the_api_refuses_a_phone_contact_too(api, asks_callback, respond) -> None:
    respond(nps=2, callback="no")
    case = Case.objects.get()
    reply = api.patch(f"/api/v1/cases/{case.id}", {"status": "contacted"}, content_type="application/json")
    assert reply.status_code == 422
    assert api.get(f"/api/v1/cases/{case.id}").json()["do_not_call"] is True


@pytest.mark.django_db(transaction=True)
def test_the_alert_email_does_not_ask_to_call_a_customer_who_said_no(
    org, asks_callback, respond, smtp_server
) -> None:
    from django.utils import translation

    respond(nps=2, callback="no")
    body = smtp_server.to(org.manager_email)[0].get_payload(decode=True).decode()
    with translation.override(org.organisation.default_locale):
        call_back = translation.gettext("Please call the customer back before %(due)s.").split("%")[0]
    assert call_back.strip() and call_back not in body
