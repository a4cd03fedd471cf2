"""STOP, START and HELP by SMS: honoured at once, for the whole organisation, confirmed once."""

from __future__ import annotations

import uuid

import pytest

from avis.customers.models import OptOut
from avis.governance.models import Decision
from avis.messaging.conversations import receive_sms
from avis.messaging.models import Conversation, InboundMessage, OutboundMessage
from avis.messaging.reminders import queue_due_reminders
from avis.surveys.models import Invitation
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+33612345678"


@pytest.fixture
def texted(org, api, settings):  # noqa: ANN001
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78").status_code == 200
    return Invitation.objects.get()


def reply(text: str) -> InboundMessage:
    inbound = receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=PHONE, recipient="AVIS", text=text
    )
    return InboundMessage.objects.get(id=inbound.id)  # as the worker left it


def texts() -> list[str]:
    return list(
        OutboundMessage.objects.filter(recipient=PHONE, status="sent")
        .order_by("sent_at", "id")
        .values_list("body_text", flat=True)
    )


@pytest.mark.parametrize(
    "keyword", ["STOP", "stop sms", "Arrêt", "ARRET !", "stopall", "Unsubscribe.", "désabonner", "STOP SMS"]
)
def test_every_opt_out_keyword_opts_out_of_the_whole_organisation(texted, keyword: str) -> None:
    assert reply(keyword).interpretation == "opt_out"
    opt_out = OptOut.objects.get()
    assert (opt_out.channel, opt_out.customer_id) == ("all", texted.customer_id)
    assert opt_out.source.startswith("sms:")  # shown in the customer's history with its date
    assert "START" in texts()[-1]


def test_stop_is_confirmed_once_and_cancels_what_was_queued(texted) -> None:
    queue_due_reminders(now=texted.reminder_due_at)
    reminder = OutboundMessage.objects.get(kind="reminder")
    assert reminder.status == "pending"
    reply("STOP")
    reply("stop!!")
    confirmations = [text for text in texts() if "START" in text]
    assert len(confirmations) == 1
    reminder.refresh_from_db()
    assert reminder.status == "cancelled"
    conversation = Conversation.objects.get()
    assert (conversation.state, conversation.end_reason) == ("closed", "opted_out")


def test_after_stop_no_survey_of_the_organisation_reaches_the_customer(texted, api) -> None:
    reply("ARRÊT")
    post_interaction(
        api, "evt-2", touchpoint="branch.visit", email="marie@example.fr", phone="06 12 34 56 78"
    )
    decision = Decision.objects.get(interaction__external_id="evt-2")
    assert (decision.outcome, decision.reason) == ("skip", "opted_out")


def test_start_brings_the_customer_back_and_keeps_the_history(texted) -> None:
    reply("STOP")
    assert reply("START").interpretation == "opt_in"
    opt_out = OptOut.objects.get()
    assert opt_out.withdrawn_at is not None and opt_out.withdrawn_source == "sms:START"
    assert "STOP" in texts()[-1]
    reply("STOP")  # a new opt-out, a new confirmation
    assert OptOut.objects.filter(withdrawn_at__isnull=True).count() == 1
    assert OptOut.objects.count() == 2


def test_help_answers_and_leaves_the_question_open(texted) -> None:
    for word in ["HELP", "Aide", "info"]:
        assert reply(word).interpretation == "help"
        assert "STOP" in texts()[-1]
    reply("9")
    assert Conversation.objects.get().answers == {"nps": "9"}


def test_texts_speak_the_customer_language(org, api, settings) -> None:
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    post_interaction(api, "evt-en", email=None, phone="06 12 34 56 78", locale="en")
    assert texts()[0].startswith("How likely are you to recommend Assurances du Centre")
    reply("HELP")
    assert "satisfaction survey" in texts()[-1]
