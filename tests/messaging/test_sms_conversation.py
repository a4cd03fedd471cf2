"""An SMS survey is a conversation: a question at a time, one clarification, thanks, never a wrong survey."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from avis.cases.models import Case
from avis.messaging.conversations import close_idle_conversations, receive_sms
from avis.messaging.models import Conversation, InboundMessage, OutboundMessage
from avis.surveys.models import Answer, Invitation, Response
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+33612345678"


@pytest.fixture
def texted(org, api, settings):  # noqa: ANN001
    """A phone-only customer whose SMS survey has just begun (through the simulator)."""
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78").status_code == 200
    return Invitation.objects.get()


def reply(text: str, phone: str = PHONE) -> InboundMessage:
    inbound = receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=phone, recipient="AVIS", text=text
    )
    return InboundMessage.objects.select_related("conversation").get(id=inbound.id)  # as the worker left it


def texts(phone: str = PHONE) -> list[str]:
    """What the phone received, in order (sent SMS only)."""
    return list(
        OutboundMessage.objects.filter(recipient=phone, channel="sms", status="sent")
        .order_by("sent_at", "id")
        .values_list("body_text", flat=True)
    )


def answers() -> dict[str, object]:
    return {
        a.question.code: a.number if a.number is not None else (a.choice or a.text or "na")
        for a in Answer.objects.select_related("question")
    }


def test_each_reply_brings_the_next_question_and_the_last_a_thank_you(texted) -> None:
    assert texts()[0].startswith("Recommanderiez-vous Assurances du Centre")
    reply("9 super accueil")
    assert "réglée" in texts()[-1] and "Oui / En partie / Non" in texts()[-1]
    reply("Oui.")
    assert "interlocuteur" in texts()[-1]
    reply("5")
    assert "dire plus" in texts()[-1]
    reply("Rapide et efficace")
    assert "Thank you" in texts()[-1] or "Merci" in texts()[-1]
    assert answers() == {
        "nps": 9,
        "resolved": "yes",
        "agent": 5,
        "comment": "super accueil / Rapide et efficace",
    }
    conversation = Conversation.objects.get()
    assert (conversation.state, conversation.end_reason) == ("closed", "completed")
    assert Invitation.objects.get().status == "responded"
    # Every text, both ways, is kept with its conversation.
    assert conversation.inbound.count() == 4
    assert conversation.outbound.filter(status="sent").count() == 5


def test_unclear_reply_gets_one_clarification_then_the_conversation_ends_politely(texted) -> None:
    reply("c'était long")
    assert "0 to 10" in texts()[-1] or "0 à 10" in texts()[-1]
    reply("bof bof")
    assert f"/s/{texted.token}" in texts()[-1]  # nothing usable: the web page stays open to them
    conversation = Conversation.objects.get()
    assert (conversation.state, conversation.end_reason) == ("closed", "unclear")
    assert not Response.objects.exists()
    reply("8")  # too late: not recorded, one kind word
    assert not Response.objects.exists()
    assert "closed" in texts()[-1] or "clos" in texts()[-1]


def test_a_clarified_reply_carries_on(texted) -> None:
    reply("beaucoup")
    reply("huit")
    assert "réglée" in texts()[-1]
    assert Conversation.objects.get().answers == {"nps": "8"}


def test_unhappy_score_given_then_silence_still_opens_a_case(texted) -> None:
    reply("2 on m'a raccroché au nez")
    assert not Response.objects.exists()
    later = timezone.now() + timedelta(hours=25)
    assert close_idle_conversations(now=later) == 1
    assert answers() == {"nps": 2, "comment": "on m'a raccroché au nez"}
    assert Case.objects.filter(response__invitation=texted).exists()


def test_late_reply_to_a_finished_survey_is_kindly_refused_once(texted) -> None:
    for text in ["10", "oui", "5", "non"]:
        reply(text)
    assert Response.objects.count() == 1
    sent_before = len(texts())
    assert reply("Ah et aussi 0 !").interpretation == "late"
    assert len(texts()) == sent_before + 1
    reply("allo ?")
    assert len(texts()) == sent_before + 1  # no echo on every message
    assert Response.objects.count() == 1
    assert answers()["nps"] == 10


def test_reply_to_a_number_two_organisations_share_is_parked_not_given_to_the_last_one(
    texted, other_org
) -> None:
    """The same phone is a customer of two organisations texting from one shared number: the reply
    could be to either survey, so it is filed under neither (tests/messaging/test_inbound_routing.py)."""
    open_all_day(other_org.organisation)
    other_api = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert (
        post_interaction(other_api, "nord-1", customer="N-1", email=None, phone="06 12 34 56 78").status_code
        == 200
    )
    newest = Invitation.objects.get(organisation=other_org.organisation)
    inbound = reply("7")
    assert (inbound.interpretation, inbound.organisation_id, inbound.conversation) == ("parked", None, None)
    assert Conversation.objects.get(invitation=texted).answers == {}
    assert Conversation.objects.get(invitation=newest).answers == {}


def test_reply_from_an_unknown_number_is_kept_and_answers_no_survey(texted) -> None:
    inbound = reply("10", phone="+33699999999")
    assert inbound.interpretation == "unmatched"
    assert inbound.conversation is None
    assert Conversation.objects.get().answers == {}


def test_webhook_retried_acts_once(texted) -> None:
    first = receive_sms(provider="simulator", provider_message_id="m-1", sender=PHONE, recipient="", text="9")
    again = receive_sms(provider="simulator", provider_message_id="m-1", sender=PHONE, recipient="", text="9")
    assert first.id == again.id
    assert len(texts()) == 2  # the invitation, then one second question
