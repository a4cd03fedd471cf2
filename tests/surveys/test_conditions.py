"""A follow-up asked "only if NPS ≤ 6" or "only if not resolved" is asked the same way on the page,
in the email and in the SMS conversation — one function decides, every channel calls it."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from avis.messaging.conversations import receive_sms
from avis.messaging.models import OutboundMessage
from avis.surveys.conditions import applicable_questions
from avis.surveys.design import DraftChanges, QuestionTexts, change_draft, publish_survey
from avis.surveys.models import Answer, Invitation, Question, Survey
from tests.helpers import open_all_day, post_interaction

PHONE = "+33612345678"
UNHAPPY = "Désolés. Que s’est-il passé ?"  # a typographic apostrophe: HTML leaves it as it is


def q(code: str, condition: dict | None = None) -> Question:
    return Question(code=code, kind="text", condition=condition or {})


def test_a_follow_up_applies_only_when_the_answer_so_far_meets_its_condition() -> None:
    questions = [
        q("nps"),
        q("resolved"),
        q("why", {"question": "nps", "at_most": 6}),
        q("what_failed", {"question": "resolved", "among": ["partly", "no"]}),
        q("detail", {"question": "what_failed", "among": ["delay"]}),  # a follow-up of a follow-up
    ]

    def codes(answers: dict[str, str]) -> list[str]:
        return [question.code for question in applicable_questions(questions, answers)]

    assert codes({}) == ["nps", "resolved"]
    assert codes({"nps": "6", "resolved": "yes"}) == ["nps", "resolved", "why"]
    assert codes({"nps": "7", "resolved": "no"}) == ["nps", "resolved", "what_failed"]
    assert codes({"nps": "na"}) == ["nps", "resolved"]  # "not applicable" meets no condition
    # An answer to a question that was not asked leads nowhere.
    assert codes({"nps": "9", "resolved": "yes", "what_failed": "delay"}) == ["nps", "resolved"]
    assert codes({"resolved": "no", "what_failed": "delay"})[-1] == "detail"


@pytest.fixture
def follow_ups(org) -> Survey:  # noqa: ANN001
    """The call-centre survey, version 2: the comment is asked to detractors only, with its own wording."""
    survey = Survey.objects.get(organisation=org.organisation, touchpoint__code="call_center.call")
    change_draft(
        organisation=org.organisation,
        survey_id=survey.id,
        changes=DraftChanges(
            texts={"comment": QuestionTexts(prompt={"fr": UNHAPPY})},
            conditions={"comment": {"question": "nps", "at_most": 6}},
            remove=["agent"],
        ),
    )
    publish_survey(organisation=org.organisation, survey_id=survey.id)
    open_all_day(org.organisation)
    survey.refresh_from_db()
    return survey


@pytest.mark.django_db
def test_the_page_asks_the_comment_of_a_detractor_only(org, api, follow_ups) -> None:  # noqa: ANN001
    post_interaction(api, "evt-1")
    token = Invitation.objects.get().token
    # From the email's one-click score: 9 shows no comment, 3 shows it at once.
    assert UNHAPPY not in Client().get(f"/s/{token}?nps=9").content.decode()
    assert UNHAPPY in Client().get(f"/s/{token}?nps=3").content.decode()

    # Without JavaScript: the page showed two questions; a 3 brings the follow-up before anything is kept.
    page = Client().post(f"/s/{token}", {"shown": "nps,resolved", "nps": "3", "resolved": "no"})
    assert page.status_code == 200
    assert UNHAPPY in page.content.decode() and 'class="notice" role="status"' in page.content.decode()
    assert not Answer.objects.exists()
    thanks = Client().post(
        f"/s/{token}", {"shown": "nps,resolved,comment", "nps": "3", "resolved": "no", "comment": "Trop long"}
    )
    assert thanks.status_code == 200 and Invitation.objects.get().status == "responded"
    assert {a.question.code: a.text or a.number or a.choice for a in Answer.objects.all()} == {
        "nps": 3,
        "resolved": "no",
        "comment": "Trop long",
    }


@pytest.mark.django_db
def test_with_htmx_the_follow_up_appears_as_the_score_is_chosen(org, api, follow_ups) -> None:  # noqa: ANN001
    post_interaction(api, "evt-1")
    token = Invitation.objects.get().token
    fragment = (
        Client()
        .post(f"/s/{token}", {"shown": "nps,resolved", "nps": "2"}, HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert fragment.startswith('<div id="questions">') and UNHAPPY in fragment
    assert not Answer.objects.exists()  # choosing a score records nothing


@pytest.mark.django_db
def test_a_comment_sent_for_a_promoter_is_not_kept(org, api, follow_ups) -> None:  # noqa: ANN001
    post_interaction(api, "evt-1")
    token = Invitation.objects.get().token
    Client().post(f"/s/{token}", {"nps": "10", "resolved": "yes", "comment": "typed before changing my mind"})
    assert sorted(Answer.objects.values_list("question__code", flat=True)) == ["nps", "resolved"]


def sms_reply(text: str) -> None:
    receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=PHONE, recipient="A", text=text
    )


def texts() -> list[str]:
    return list(
        OutboundMessage.objects.filter(recipient=PHONE, status="sent")
        .order_by("sent_at", "id")
        .values_list("body_text", flat=True)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("score", "asked"), [("9", False), ("4", True)])
def test_the_sms_conversation_follows_the_same_condition(
    org, api, follow_ups, settings, score, asked
) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PROVIDER = "simulator"
    post_interaction(api, "evt-1", email=None)
    sms_reply(score)
    assert "Oui / En partie / Non" in texts()[-1]
    sms_reply("non")
    if asked:
        assert texts()[-1] == UNHAPPY
        sms_reply("Personne ne rappelle")
    assert texts()[-1].startswith("Merci")
    assert Invitation.objects.get().status == "responded"
    kept = set(Answer.objects.values_list("question__code", flat=True))
    assert kept == ({"nps", "resolved", "comment"} if asked else {"nps", "resolved"})
    assert {a.response.version_id for a in Answer.objects.select_related("response")} == {
        follow_ups.current_version_id
    }
