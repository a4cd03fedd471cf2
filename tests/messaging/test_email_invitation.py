"""Survey email: HTML and text, the score in one click, one-click unsubscribe, bounces and complaints."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from django.db import models
from django.test import Client

from avis.customers.models import Customer, OptOut
from avis.governance.models import Decision
from avis.messaging.dispatch import deliver_message
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation, Response
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db

SECRET = "mail-events-secret"  # noqa: S105


@pytest.fixture
def emailed(org, api, smtp_server, settings):  # noqa: ANN001
    settings.AVIS_BASE_URL = "https://avis.example.fr"
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1").status_code == 200
    message = OutboundMessage.objects.get(kind="invitation")
    deliver_message(message_id=message.id)
    (email,) = smtp_server.messages
    return email


def parts(email) -> dict[str, str]:  # noqa: ANN001
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in email.walk()
        if not part.is_multipart()
    }


def test_email_offers_each_score_as_a_link_that_opens_the_page_with_it_chosen(emailed) -> None:
    token = Invitation.objects.get().token
    html, text = parts(emailed)["text/html"], parts(emailed)["text/plain"]
    links = re.findall(rf'href="https://avis\.example\.fr/s/{token}\?nps=(\d+)"', html)
    assert links == [str(score) for score in range(11)]
    assert f"/s/{token}?nps=0" in text and f"/s/{token}?nps=10" in text

    page = Client().get(f"/s/{token}?nps=9").content.decode()
    assert re.search(r'name="nps" value="9"[^>]* checked', page)
    assert not re.search(r'name="nps" value="8"[^>]* checked', page)
    assert Client().post(f"/s/{token}", {"nps": "9", "resolved": "yes"}).status_code == 200
    assert Response.objects.get().answers.get(question__code="nps").number == 9


def test_email_carries_rfc_8058_one_click_unsubscribe(emailed) -> None:
    token = Invitation.objects.get().token
    assert (
        "".join(emailed["List-Unsubscribe"].split())
        == f"<https://avis.example.fr/messaging/unsubscribe/{token}>"
    )
    assert emailed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_one_click_post_opts_the_address_out_without_a_session(emailed, api) -> None:
    token = Invitation.objects.get().token
    reply = Client(enforce_csrf_checks=True).post(
        f"/messaging/unsubscribe/{token}",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert reply.status_code == 200
    opt_out = OptOut.objects.get()
    assert (opt_out.channel, opt_out.source) == ("email", "email:list-unsubscribe")
    # Email refused: the next survey, if any, goes by SMS.
    post_interaction(api, "evt-2", touchpoint="branch.visit")
    assert Decision.objects.get(interaction__external_id="evt-2").channel in ("sms", "")


def test_unsubscribe_page_asks_before_acting_on_a_plain_visit(emailed) -> None:
    token = Invitation.objects.get().token
    assert Client().get(f"/messaging/unsubscribe/{token}").status_code == 200
    assert not OptOut.objects.exists()
    assert Client().get("/messaging/unsubscribe/nope").status_code == 404


def _signed(payload: object, secret: str = SECRET) -> dict[str, object]:
    body = json.dumps(payload)
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"data": body, "content_type": "application/json", "HTTP_X_SIGNATURE": signature}


def test_hard_bounce_marks_the_address_and_soft_bounce_does_not(emailed, settings) -> None:
    settings.AVIS_EMAIL_WEBHOOK_SECRET = SECRET
    soft = {"type": "bounce", "email": "marie.dupont@example.fr", "permanent": False}
    assert Client().post("/hooks/email/events", **_signed(soft)).status_code == 200
    assert Customer.objects.get().email_status == "ok"
    hard = {"type": "bounce", "email": "Marie.Dupont@example.fr", "message_id": emailed["Message-ID"]}
    assert Client().post("/hooks/email/events", **_signed([hard])).status_code == 200
    customer = Customer.objects.get()
    assert customer.email_status == "invalid" and customer.email_failed_at is not None


def test_complaint_marks_the_address_and_opts_out_of_email(emailed, settings) -> None:
    settings.AVIS_EMAIL_WEBHOOK_SECRET = SECRET
    complaint = {"type": "complaint", "email": "marie.dupont@example.fr"}
    assert Client().post("/hooks/email/events", **_signed(complaint)).status_code == 200
    assert Customer.objects.get().email_status == "complained"
    assert OptOut.objects.get().channel == "email"


def test_forged_bounce_report_is_refused(emailed, settings) -> None:
    settings.AVIS_EMAIL_WEBHOOK_SECRET = SECRET
    forged = _signed({"type": "bounce", "email": "marie.dupont@example.fr"}, secret="guess")
    assert Client().post("/hooks/email/events", **forged).status_code == 403
    assert Customer.objects.get().email_status == "ok"


def test_an_effort_question_asked_first_is_offered_as_one_to_seven_in_the_email(
    org, api, smtp_server, settings
) -> None:
    from avis.surveys.models import Question, QuestionKind, Survey

    settings.AVIS_BASE_URL = "https://avis.example.fr"
    open_all_day(org.organisation)
    survey = Survey.objects.get(organisation=org.organisation, touchpoint__code="call_center.call")
    survey.current_version.questions.update(position=models.F("position") + 10)
    Question.objects.create(
        version=survey.current_version,
        position=1,
        code="effort",
        kind=QuestionKind.CES,
        attribution="process",
        prompt={"fr": "Était-ce facile ?", "en": "Was it easy?"},
    )
    assert post_interaction(api, "evt-ces").status_code == 200
    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    (email,) = smtp_server.messages
    token = Invitation.objects.get().token
    links = re.findall(
        rf'href="https://avis\.example\.fr/s/{token}\?effort=(\d+)"', parts(email)["text/html"]
    )
    assert links == [str(score) for score in range(1, 8)]


def test_the_plain_text_part_carries_no_html_entities(org, api, smtp_server) -> None:
    org.organisation.name = "L'Atelier d'Horizon & fils"
    org.organisation.save(update_fields=["name"])
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1").status_code == 200
    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    (email,) = smtp_server.messages
    text = parts(email)["text/plain"]
    assert "L'Atelier d'Horizon & fils" in text
    assert "&#x27;" not in text and "&amp;" not in text
    assert "L&#x27;Atelier d&#x27;Horizon &amp; fils" in parts(email)["text/html"]  # HTML stays escaped
