"""The respondent's page is rendered once per published version and wording, then filled in per
request: what the respondent sees is exactly the page rendered in full with their choices."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import translation

from avis.surveys.conditions import applicable_questions
from avis.surveys.models import Invitation
from avis.surveys.queries import invitation_for_token, version_questions
from avis.surveys.respondent_page import laid_out
from tests.helpers import open_all_day, post_interaction

CHOICES = [
    {},
    {"nps": "9"},
    {"nps": "0", "resolved": "partly", "agent": "na"},
    {"nps": "2", "resolved": "no", "agent": "3", "comment": 'Le "conseiller" <b>Zoë</b> & co\nrien'},
    # Nothing a respondent could not have chosen is ever marked.
    {"nps": "11", "resolved": "maybe", "agent": '5" checked x="', "comment": "   "},
]


@pytest.mark.django_db
def test_the_page_kept_and_filled_in_is_the_page_rendered_in_full(org, api) -> None:
    open_all_day(org.organisation, quarantine_days=0)
    post_interaction(api, "evt-1", customer="C-1")
    token = Invitation.objects.get().token
    invitation = invitation_for_token(token)
    every = version_questions(invitation.version)
    company = invitation.organisation.name
    client = Client()
    for chosen in CHOICES:
        page = client.get(f"/s/{token}", chosen)
        assert page.status_code == 200
        questions = applicable_questions(every, chosen)
        with translation.override(invitation.locale):
            touchpoint = invitation.touchpoint.label(invitation.locale)
            context = {"company": company, "posted": chosen, "errors": {}, "more": False}
            context |= laid_out(
                questions, every, language=invitation.locale, company=company, touchpoint=touchpoint
            )
            full = render_to_string("surveys/respond.html", context, RequestFactory().get("/"))
        assert page.content.decode() == full, chosen
    assert client.get(f"/s/{token}", {"nps": "9"}).content.decode().count(" checked") == 1
