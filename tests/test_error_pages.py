"""403, 404 and 500 are pages of the site: its layout, the navigation when signed in, and why.

Rendered with DEBUG off (as in production); the API keeps answering JSON.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from avis.accounts.permissions import PAGES, TEAM, Page
from tests.factories import PASSWORD, OrganisationSetup

pytestmark = pytest.mark.django_db
STYLESHEET = '<link rel="stylesheet" href="/static/avis/app.css">'
NAVIGATION = '<nav aria-label="Main">'
POLICY = "/settings/policy/"


def signed_in(email: str) -> Client:
    client = Client(raise_request_exception=False)
    assert client.login(username=email, password=PASSWORD)
    return client


def reason_of(page: str) -> str:
    found = re.search(r'<p class="error-reason" id="error-reason">([^<]*)</p>', page)
    assert found, "no reason on the page"
    return found.group(1)


def test_a_manager_sending_the_policy_form_reads_why_and_keeps_the_navigation(settings, org) -> None:  # noqa: ANN001
    assert settings.DEBUG is False
    reply = signed_in(org.manager_email).post(POLICY, {"quarantine_days": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 403
    page = reply.content.decode()
    assert STYLESHEET in page and NAVIGATION in page
    assert '<h1 id="error-title">You cannot open this page</h1>' in page
    assert reason_of(page) == "Only administrators and analysts can change the contact policy."
    assert 'href="/">Back to the overview</a>' in page


def test_the_refusal_in_french(org) -> None:  # noqa: ANN001
    reply = signed_in(org.manager_email).post(POLICY, {"quarantine_days": "1"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert reply.status_code == 403
    assert reason_of(reply.content.decode()) == (
        "Seuls les administrateurs et les analystes peuvent modifier les règles de sollicitation."
    )


def test_a_page_for_administrators_says_so(org) -> None:  # noqa: ANN001
    reply = signed_in(org.manager_email).get("/settings/people/", HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 403
    page = reply.content.decode()
    assert NAVIGATION in page
    assert reason_of(page) == "Only administrators can open this page."


def test_a_missing_page_signed_in_and_signed_out(org) -> None:  # noqa: ANN001
    reply = signed_in(org.manager_email).get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 404
    page = reply.content.decode()
    assert STYLESHEET in page and NAVIGATION in page
    assert "There is no such page" in page
    assert reason_of(page) == "The address may be mistyped, or what it showed was removed."
    anonymous = Client().get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert anonymous.status_code == 404
    page = anonymous.content.decode()
    assert STYLESHEET in page and "<nav" not in page  # no navigation to pages one cannot open
    assert 'href="/login/">Se connecter</a>' in page
    assert "Cette page n’existe pas" in page


def test_our_own_not_found_sentence_is_the_reason(org) -> None:  # noqa: ANN001
    reply = signed_in(org.manager_email).get("/governance/simulation/nosuchrun/", HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 404
    assert reason_of(reply.content.decode()) == "No such simulation."


def test_the_api_still_answers_json(org, api) -> None:  # noqa: ANN001
    reply = api.get("/api/v1/no-such-operation")
    assert reply.status_code == 404
    assert reply.json()["code"] == "not_found"
    refused = Client()
    assert refused.login(username=org.manager_email, password=PASSWORD)
    reply = refused.get("/api/v1/team")
    assert reply.status_code == 403
    assert reply["Content-Type"].startswith("application/json")


def test_a_failing_page_shows_the_sites_500_page(settings, org, monkeypatch) -> None:  # noqa: ANN001
    settings.ROOT_URLCONF = "tests.error_urls"
    monkeypatch.setitem(PAGES, "tests-broken", Page(read=TEAM))  # the test page has its row, like any page
    reply = signed_in(org.manager_email).get("/broken/", HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 500
    page = reply.content.decode()
    assert STYLESHEET in page and NAVIGATION in page
    assert "Something went wrong on our side" in page
    assert reason_of(page) == "The error has been logged; try again in a moment."
    assert "RuntimeError" not in page and "a bug in a page" not in page


def test_the_greyed_policy_form_says_why_and_whom_to_ask(org: OrganisationSetup) -> None:
    page = signed_in(org.manager_email).get(POLICY, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    notice = re.search(r'<p class="notice" id="policy-read-only">(.*?)</p>', page, re.S)
    assert notice, "the greyed form says nothing"
    text = re.sub(r"<[^>]+>", "", notice.group(1))
    assert text == (
        "You can read this policy but not change it: Only administrators and analysts can change the "
        f"contact policy. Ask {org.admin_email} (administrator)."
    )
    assert page.count('disabled aria-describedby="policy-read-only"') == 4
    admin = signed_in(org.admin_email).get(POLICY).content.decode()
    assert "policy-read-only" not in admin and "disabled" not in admin


def test_a_form_sent_without_its_token_says_what_to_do(org) -> None:  # noqa: ANN001
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=org.admin_email, password=PASSWORD)
    reply = client.post(POLICY, {"quarantine_days": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 403
    page = reply.content.decode()
    assert STYLESHEET in page and NAVIGATION in page
    assert reason_of(page) == "This form has expired. Reload the page and send it again."
    assert "CSRF verification failed" not in page
