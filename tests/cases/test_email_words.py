"""Case e-mails, as received through a real SMTP server, name questions and answers in words."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from avis.surveys.models import Invitation
from tests.helpers import answer, open_all_day, post_interaction
from tests.test_words import _codes, codes_in, english_in


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_case_emails_name_questions_and_answers_in_words(org, api, smtp_server, language: str) -> None:  # noqa: ANN001
    """``- nps: 5 / - resolved: no`` was the body of a French case e-mail."""
    organisation = org.organisation
    organisation.default_locale = language
    organisation.save(update_fields=["default_locale"])
    open_all_day(organisation)
    with time_machine.travel(datetime(2026, 12, 2, 9, 30, tzinfo=ZoneInfo("Europe/Paris")), tick=True):
        post_interaction(api, "evt-1")
        answer(
            Invitation.objects.get().token, nps="4", resolved="partly", agent="na", comment="Toujours rien."
        )
    body = smtp_server.to(org.manager_email)[0].get_payload(decode=True).decode()
    assert codes_in(body, _codes(organisation)) == set(), body
    assert "- nps:" not in body, body
    if language == "fr":
        assert "en partie" in body.lower() and "recommandation (0–10)" in body, body
        assert english_in(re.sub(r"https?://\S+", "", body)) == set(), body  # the link is no text
        assert "Appel au service client" in body and "2 décembre 2026" in body, body
    else:
        assert "- recommendation (0–10): 4" in body and "Call to customer service" in body, body
        assert "2 Dec 2026" in body, body  # day first, as the English UI writes it
