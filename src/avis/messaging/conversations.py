"""SMS surveys as conversations, and the keywords (STOP, START, HELP) that work in any of them.

The rules, in the order a reply meets them:

1. A reply finds its conversation through the last survey text we sent to the
   number (``InboundMessage.reply_to``), never through the customer alone: a
   number may belong to customers of several organisations, and a customer
   may have been surveyed twice. Only the newest conversation of a number can
   receive replies; an older one still open is closed when it goes idle.
2. Keywords come first, whatever the question (sms_replies decides what is
   one). STOP and its variants opt the customer out of every survey of the
   organisation at once, cancel what is queued for them, close their open
   conversations and are confirmed once; START undoes it; HELP gets a short
   help text and leaves the conversation where it was.
3. A reply to a closed conversation, or to a survey that expired or was
   answered on the web, gets one kind "this survey is closed" and is never
   recorded as an answer to anything.
4. In an open conversation, the reply is read against the question it
   answers. An answer moves to the next question, or ends with a thank-you
   after the last one. The first unclear reply gets one short clarification;
   a second ends the conversation politely, with the web link if nothing
   usable was collected.
5. Whatever ends a conversation (last answer, second unclear reply, STOP,
   silence, a newer survey), the answers collected are submitted through the
   surveys service as soon as every required question has one: the response
   then opens cases like any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.customers.models import Channel, Customer
from avis.customers.services import opt_out_customers, withdraw_opt_outs
from avis.errors import ValidationFailed
from avis.isolation import apart
from avis.messaging.inbound import record_inbound_message, route_inbound
from avis.messaging.models import (
    Conversation,
    ConversationEnd,
    ConversationState,
    InboundMessage,
    MessageKind,
    OutboundMessage,
)
from avis.messaging.outbox import cancel_queued_messages, enqueue_on_commit
from avis.messaging.queries import provider_name
from avis.messaging.rendering import respondent_link, sms_completion_text, sms_question
from avis.messaging.sms_replies import Reply, parse_reply
from avis.queue import wake
from avis.surveys.conditions import applicable_questions, next_question_index
from avis.surveys.models import Invitation, InvitationStatus, Question, QuestionKind
from avis.surveys.services import AnswersInvalid, InvitationUnavailable, submit_response

logger = logging.getLogger(__name__)

# A person is waiting for these: they leave before invitations and notifications.
REPLY_PRIORITY = 20

_ONE_AT_A_TIME = threading.Lock()  # see handle_inbound


def receive_sms(
    *,
    provider: str,
    provider_message_id: str,
    sender: str,
    recipient: str,
    text: str,
    at: datetime | None = None,
    organisation_id: int | None = None,
) -> InboundMessage:
    """Keep an inbound text, and hand it to a worker to act on: the next question, a keyword's effect.

    ``organisation_id`` when the text came through that organisation's own provider account.

    The webhook only records (one INSERT) and wakes a worker, so a provider's
    burst of replies is answered at the speed of one insert; who wrote, the
    conversation and the answer are the worker's business (within the same
    second when workers are idle). Providers retry webhooks; the second
    delivery of the same message finds it already recorded and, once
    handled, is not handled again.
    """
    from avis.messaging.tasks import handle_inbound_message

    inbound = record_inbound_message(
        provider=provider,
        provider_message_id=provider_message_id,
        sender=sender,
        recipient=recipient,
        text=text,
        at=at,
        organisation_id=organisation_id,
    )
    if not inbound.interpretation:
        wake(lambda: handle_inbound_message(inbound.id), what="an inbound text")
    return inbound  # as recorded: what the worker made of it is in the database


@dataclass(frozen=True)
class _Reading:
    """What a text means, worked out before any write: its conversation, the question, the reply."""

    conversation: Conversation | None
    question: Question | None
    reply: Reply
    language: str


def handle_inbound(*, inbound_id: int, now: datetime | None = None) -> str:
    """Act once on a recorded text; returns how it was read ("" when another worker had it).

    Everything that only reads comes first, outside any transaction: who
    wrote, the conversation, the question, what the reply says. The
    transaction that follows writes, so it holds SQLite's single write lock
    (which every webhook recording a new text needs too) for a few
    statements, not for the whole reading; if another reply moved the
    conversation in between, it is read again under the lock. Within one
    worker process, texts are handled one at a time: a second thread
    reading meanwhile would hold the GIL that the writing one needs between
    its statements, stretching its hold on SQLite's lock (the GIL lets one
    thread run Python at a time anyway).
    """
    with _ONE_AT_A_TIME:
        return _handle_inbound(inbound_id, now=now or timezone.now())


def file_parked_text(*, inbound_id: int, organisation_id: int, now: datetime | None = None) -> str:
    """An installation admin's decision on a parked text: it is this organisation's (one of those
    that could own it), and is handled as if it had come through that organisation's own account."""
    inbound = InboundMessage.objects.filter(id=inbound_id, interpretation="parked").first()
    if inbound is None or organisation_id not in inbound.parked_among:
        raise ValidationFailed(_("Choose one of the organisations that could own this text."))
    InboundMessage.objects.filter(id=inbound_id, interpretation="parked").update(
        interpretation="", organisation_id=organisation_id
    )
    return handle_inbound(inbound_id=inbound_id, now=now)


def _handle_inbound(inbound_id: int, *, now: datetime) -> str:
    inbound = InboundMessage.objects.filter(id=inbound_id, interpretation="").first()
    if inbound is None:
        return ""
    routing = route_inbound(
        sender=inbound.sender,
        recipient=inbound.recipient,
        at=inbound.received_at,
        organisation_id=inbound.organisation_id,
    )
    if routing.parked_among:
        # Several organisations could own it: filed under none, answered by none, until reviewed.
        with transaction.atomic():
            parked = InboundMessage.objects.filter(id=inbound_id, interpretation="").update(
                interpretation="parked", parked_among=list(routing.parked_among)
            )
            if parked and parse_reply(inbound.text, question_kind="text").kind == "opt_out":
                _opt_out_everywhere(inbound.sender, organisation_ids=routing.parked_among)
        return "parked" if parked else ""
    inbound.organisation_id, inbound.customer_id, inbound.reply_to_id = (
        routing.organisation_id,
        routing.customer_id,
        routing.message_id,
    )
    reading = _read(inbound)
    with transaction.atomic():
        # The claim: of two workers handling one text at once, only the one
        # whose UPDATE matched acts on it (the other waits, then sees it taken).
        if not InboundMessage.objects.filter(id=inbound_id, interpretation="").update(interpretation="…"):
            return ""
        if _moved(reading.conversation):
            reading = _read(inbound)
        interpretation, conversation = _act(inbound, reading, now=now)
        InboundMessage.objects.filter(id=inbound.id).update(
            organisation_id=inbound.organisation_id,
            customer_id=inbound.customer_id,
            reply_to_id=inbound.reply_to_id,
            interpretation=interpretation,
            conversation=conversation,
        )
    return interpretation


def handle_forgotten_inbound(*, now: datetime | None = None) -> int:
    """Wake workers again for texts recorded but never handled (their wake-up was lost with a worker)."""
    from avis.messaging.tasks import handle_inbound_message

    since = (now or timezone.now()) - timedelta(seconds=60)
    ids = list(
        InboundMessage.objects.filter(interpretation="", received_at__lt=since).values_list("id", flat=True)[
            :1000
        ]
    )
    for inbound_id in ids:
        handle_inbound_message(inbound_id)
    return len(ids)


def _read(inbound: InboundMessage) -> _Reading:
    conversation = _conversation_for(inbound)
    question = None
    if conversation is not None and conversation.state == ConversationState.OPEN:
        question = _questions(conversation)[conversation.position]
    reply = parse_reply(
        inbound.text,
        question_kind=question.kind if question else "text",  # type: ignore[arg-type]
        allows_not_applicable=bool(question and question.allows_not_applicable),
    )
    return _Reading(conversation, question, reply, _language(inbound, conversation, reply))


def _act(inbound: InboundMessage, reading: _Reading, *, now: datetime) -> tuple[str, Conversation | None]:
    conversation, question, reply = reading.conversation, reading.question, reading.reply
    with translation.override(reading.language):
        if reply.kind == "opt_out":
            _opt_out(inbound, conversation=conversation, now=now)
            return "opt_out", conversation
        if reply.kind == "opt_in":
            _opt_in(inbound, conversation=conversation)
            return "opt_in", conversation
        if reply.kind == "help":
            _text_back(inbound, _help_text(inbound), kind=MessageKind.SERVICE, conversation=conversation)
            return "help", conversation
        if conversation is None:
            # Nobody we texted: kept for the record, answered by no one.
            return "unmatched", None
        if not _answerable(conversation, now=now):
            _reject_late(inbound, conversation, now=now)
            return "late", conversation
        assert question is not None
        return _converse(inbound, conversation, question, reply, now=now), conversation


# --- Finding the conversation ---------------------------------------------------------------


def _conversation_for(inbound: InboundMessage) -> Conversation | None:
    """The conversation of the last survey text sent to this number, if any."""
    if inbound.reply_to_id is None:
        return None
    return (
        Conversation.objects.select_related("invitation__touchpoint", "organisation")
        .filter(invitation__messages=inbound.reply_to_id)
        .first()
    )


def _moved(conversation: Conversation | None) -> bool:
    """Whether the conversation changed since it was read (another reply, the web page); locks its row."""
    if conversation is None:
        return False
    current = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(id=conversation.id)
        .values_list("state", "position", "clarification_sent", "late_reply_answered", "invitation__status")
        .first()
    )
    read = (
        conversation.state,
        conversation.position,
        conversation.clarification_sent,
        conversation.late_reply_answered,
        conversation.invitation.status,
    )
    return current != read


def _answerable(conversation: Conversation, *, now: datetime) -> bool:
    """Open, and the invitation still takes answers; closes it on the spot when it doesn't."""
    if conversation.state != ConversationState.OPEN:
        return False
    invitation = conversation.invitation
    if invitation.status == InvitationStatus.RESPONDED:
        _close(conversation, ConversationEnd.ANSWERED_ONLINE, now=now)
        return False
    if invitation.status == InvitationStatus.CANCELLED or invitation.expires_at <= now:
        _close(conversation, ConversationEnd.EXPIRED, now=now)
        return False
    return True


def _language(inbound: InboundMessage, conversation: Conversation | None, reply: Reply) -> str:
    if conversation is not None:
        return conversation.invitation.locale
    if inbound.customer is not None:
        return inbound.customer.locale
    return reply.language_hint or settings.LANGUAGE_CODE


# --- The conversation itself ----------------------------------------------------------------


def _questions(conversation: Conversation) -> list[Question]:
    """The survey's questions in order, read once per conversation object."""
    if not hasattr(conversation, "_questions_in_order"):
        in_order = Question.objects.filter(version_id=conversation.invitation.version_id).order_by("position")
        conversation._questions_in_order = list(in_order)  # type: ignore[attr-defined]
    return conversation._questions_in_order  # type: ignore[attr-defined]


def _converse(
    inbound: InboundMessage, conversation: Conversation, question: Question, reply: Reply, *, now: datetime
) -> str:
    raw = _raw_answer(question, reply) if reply.kind == "answer" else None
    conversation.last_activity_at = now
    if raw is None:
        if conversation.clarification_sent:
            _close(conversation, ConversationEnd.UNCLEAR, now=now, inbound=inbound)
            return "unclear"
        conversation.clarification_sent = True
        conversation.save(update_fields=["clarification_sent", "last_activity_at"])
        _text_back(
            inbound, _clarification(question), kind=MessageKind.CONVERSATION, conversation=conversation
        )
        return "unclear"
    if raw:
        conversation.answers[question.code] = raw
    if reply.comment and question.kind != QuestionKind.TEXT:
        conversation.comments.append(reply.comment)
    questions = _questions(conversation)
    # The next question the answers so far lead to (the web page and the email follow the same rule).
    following = next_question_index(questions, conversation.answers, after=conversation.position)
    if following is None:
        _close(conversation, ConversationEnd.COMPLETED, now=now, inbound=inbound)
        return "answer"
    conversation.position = following
    conversation.save(update_fields=["answers", "comments", "position", "last_activity_at"])
    company = conversation.organisation.name
    language = translation.get_language()
    text = sms_question(
        questions[conversation.position],
        language=language,
        company=company,
        touchpoint=conversation.invitation.touchpoint.label(language),
    )
    _text_back(inbound, text, kind=MessageKind.CONVERSATION, conversation=conversation)
    return "answer"


def _raw_answer(question: Question, reply: Reply) -> str | None:
    """The reply as the web form would have posted it; "" for "nothing to add"; None if unusable."""
    value = reply.value
    if value == "na":
        return "na" if question.allows_not_applicable else None
    if question.kind in (QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.CES):
        return str(value) if isinstance(value, int) else None
    if question.kind == QuestionKind.CHOICE:
        allowed = {choice["value"] for choice in question.choices}
        return value if value in allowed else None  # type: ignore[return-value]
    # Free text: "non", "no", "rien à ajouter" to "anything else?" is not a comment.
    as_choice = parse_reply(str(value), question_kind="choice")
    if as_choice.kind == "answer" and as_choice.value == "no" and not as_choice.comment:
        return ""
    return str(value)


def _clarification(question: Question) -> str:
    if question.kind == QuestionKind.NPS:
        return _("Sorry, we did not understand. Please reply with one number from 0 to 10.")
    if question.kind == QuestionKind.CSAT:
        return _("Sorry, we did not understand. Please reply with one number from 1 to 5.")
    if question.kind == QuestionKind.CES:
        return _("Sorry, we did not understand. Please reply with one number from 1 to 7.")
    labels = " / ".join(
        choice["label"].get(translation.get_language()) or choice["label"].get("en", "")
        for choice in question.choices
    )
    return _("Sorry, we did not understand. Please reply %(options)s.") % {"options": labels}


def _close(
    conversation: Conversation, reason: str, *, now: datetime, inbound: InboundMessage | None = None
) -> None:
    """End the conversation, submit what it collected if enough, and say goodbye when a reply ended it."""
    conversation.state = ConversationState.CLOSED
    conversation.end_reason = reason
    conversation.closed_at = now
    conversation.last_activity_at = now
    conversation.save()
    recorded = _submit(conversation, now=now)
    if inbound is None:
        return
    company = conversation.organisation.name
    if reason == ConversationEnd.COMPLETED:
        text = sms_completion_text(language=translation.get_language(), company=company)
    elif recorded:
        text = _("Thank you for your answers; we will not ask more. %(company)s") % {"company": company}
    else:
        text = _(
            "Thank you for your time; we could not read your reply, so we will stop here. "
            "You can still answer online: %(link)s"
        ) % {"link": respondent_link(conversation.invitation)}
    _text_back(inbound, text, kind=MessageKind.CONVERSATION, conversation=conversation)


def _submit(conversation: Conversation, *, now: datetime) -> bool:
    """Hand the answers to the surveys service once every required question has one."""
    answers = dict(conversation.answers)
    questions = applicable_questions(_questions(conversation), answers)
    if not answers or any(q.required and not answers.get(q.code) for q in questions):
        return False
    comment_question = next((q for q in questions if q.kind == QuestionKind.TEXT), None)
    if comment_question is not None:
        parts = [*conversation.comments, answers.get(comment_question.code, "")]
        answers[comment_question.code] = " / ".join(part for part in parts if part)
    try:
        submit_response(token=conversation.invitation.token, answers=answers, now=now)
    except (InvitationUnavailable, AnswersInvalid) as exc:
        logger.info("conversation %s: answers not recorded (%s)", conversation.id, exc)
        return False
    return True


def _reject_late(inbound: InboundMessage, conversation: Conversation, *, now: datetime) -> None:
    """Once per conversation: a customer replying to an old survey deserves to know, not an echo each time."""
    if conversation.late_reply_answered:
        return
    conversation.late_reply_answered = True
    conversation.save(update_fields=["late_reply_answered"])
    text = _("Thank you for your message. This survey is closed, so your reply was not recorded.")
    _text_back(inbound, text, kind=MessageKind.SERVICE, conversation=conversation)


def close_idle_conversations(*, now: datetime | None = None) -> int:
    """Close conversations the customer left (or whose link expired), keeping what they answered."""
    now = now or timezone.now()
    idle_since = now - timedelta(hours=settings.AVIS_SMS_CONVERSATION_IDLE_HOURS)
    ids = list(
        Conversation.objects.filter(state=ConversationState.OPEN)
        .filter(Q(last_activity_at__lt=idle_since) | Q(invitation__expires_at__lte=now))
        .values_list("id", "organisation_id")[:1000]
    )
    closed = 0
    for conversation_id, organisation_id in ids:
        with apart("close_idle_conversations", organisation_id), transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(of=("self",))
                .select_related("invitation__survey", "organisation")
                .filter(id=conversation_id, state=ConversationState.OPEN)
                .first()
            )
            if conversation is None:
                continue  # a reply closed it meanwhile
            expired = conversation.invitation.expires_at <= now
            _close(conversation, ConversationEnd.EXPIRED if expired else ConversationEnd.IDLE, now=now)
            closed += 1
    return closed


# --- Keywords -------------------------------------------------------------------------------


def _customers_texting(inbound: InboundMessage) -> list[int]:
    """The customers of the organisation who have this number (one, unless they share a phone)."""
    if inbound.customer_id is not None:
        return [inbound.customer_id]
    if inbound.organisation_id is None:
        return []
    return list(
        Customer.objects.filter(organisation_id=inbound.organisation_id, phone=inbound.sender).values_list(
            "id", flat=True
        )
    )


def _opt_out(inbound: InboundMessage, *, conversation: Conversation | None, now: datetime) -> None:
    customer_ids = _customers_texting(inbound)
    if not customer_ids or inbound.organisation is None:
        logger.info("opt-out from %s, who is no customer we can tell", inbound.sender)
        return
    organisation = inbound.organisation
    # Every survey of the organisation, on every channel: "STOP" does not say "STOP this one".
    created = opt_out_customers(
        organisation=organisation,
        customer_ids=customer_ids,
        channel=Channel.ALL,
        source=f"sms:{inbound.text.strip()[:56]}",
    )
    cancel_queued_messages(organisation=organisation, customer_ids=customer_ids)
    open_conversations = Conversation.objects.select_for_update(of=("self",)).filter(
        organisation=organisation, customer_id__in=customer_ids, state=ConversationState.OPEN
    )
    for open_conversation in open_conversations.select_related("invitation__survey", "organisation"):
        _close(open_conversation, ConversationEnd.OPTED_OUT, now=now)
    if created:  # confirmed once: a second STOP gets no answer
        text = _("%(company)s: you will no longer receive our surveys. Reply START to opt back in.") % {
            "company": organisation.name
        }
        _text_back(inbound, text, kind=MessageKind.SERVICE, conversation=conversation)


def _opt_out_everywhere(sender: str, *, organisation_ids: Sequence[int]) -> None:
    """A STOP nobody can attribute is honoured by every organisation that could own it, at once:
    a missed opt-out is a breach, an extra one costs a survey. Nothing tells one organisation the
    customer's words or the other's name, and nobody texts back (there is no one to answer as)."""
    for organisation in Organisation.objects.filter(id__in=list(organisation_ids)):
        customer_ids = list(
            Customer.objects.filter(organisation=organisation, phone=sender).values_list("id", flat=True)
        )
        if customer_ids:
            opt_out_customers(
                organisation=organisation,
                customer_ids=customer_ids,
                channel=Channel.ALL,
                source="sms:STOP to a shared number",
            )
            cancel_queued_messages(organisation=organisation, customer_ids=customer_ids)


def _opt_in(inbound: InboundMessage, *, conversation: Conversation | None) -> None:
    customer_ids = _customers_texting(inbound)
    if not customer_ids or inbound.organisation is None:
        return
    source = f"sms:{inbound.text.strip()[:56]}"
    if withdraw_opt_outs(organisation=inbound.organisation, customer_ids=customer_ids, source=source):
        text = _("%(company)s: you will receive our surveys again. Reply STOP to opt out.") % {
            "company": inbound.organisation.name
        }
        _text_back(inbound, text, kind=MessageKind.SERVICE, conversation=conversation)


def _help_text(inbound: InboundMessage) -> str:
    company = inbound.organisation.name if inbound.organisation else "avis"
    return _(
        "%(company)s satisfaction survey: reply to the question with a few words or a number. "
        "STOP to opt out, START to opt back in."
    ) % {"company": company}


# --- Sending back ---------------------------------------------------------------------------


def _text_back(
    inbound: InboundMessage, text: str, *, kind: str, conversation: Conversation | None
) -> OutboundMessage | None:
    """Answer an inbound text through the outbox; one answer per inbound text and kind, whatever retries.

    The claim on the text (``handle_inbound``) makes this the only handling
    that commits, so a plain INSERT does; the unique idempotency key would
    refuse a second one.
    """
    if inbound.organisation_id is None:
        return None  # no organisation to send on behalf of
    invitation: Invitation | None = conversation.invitation if conversation is not None else None
    message = OutboundMessage.objects.create(
        idempotency_key=f"reply-{inbound.id}-{kind}",
        organisation_id=inbound.organisation_id,
        kind=kind,
        channel=Channel.SMS,
        provider=provider_name(organisation_id=inbound.organisation_id, channel=Channel.SMS),
        recipient=inbound.sender,
        invitation=invitation,
        conversation=conversation,
        body_text=text,
        priority=REPLY_PRIORITY,
        enqueued_at=timezone.now(),  # woken once committed
    )
    enqueue_on_commit([message])
    return message
