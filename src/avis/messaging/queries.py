"""What the messaging pages read: simulated phones' threads, SMS length, costs; each organisation's
channel settings, as its pages show them and as sending uses them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncMonth

from avis.accounts.models import Organisation
from avis.customers.models import Channel
from avis.encryption import unseal
from avis.messaging.models import ChannelSettings, InboundMessage, MessageKind, MessageStatus, OutboundMessage
from avis.messaging.providers import INSTANCE, ChannelConfig, provider_for, sms_provider_name
from avis.messaging.rendering import sms_completion_text, survey_sms_text
from avis.messaging.sms_encoding import SmsLength, measure_sms
from avis.surveys.conditions import applicable_questions
from avis.surveys.models import Question, Response

SIMULATOR = "simulator"


@dataclass(frozen=True)
class ThreadLine:
    at: datetime
    inbound: bool
    text: str
    status: str  # outbound: the outbox status; inbound: how the reply was read


def simulated_phones(*, organisation: Organisation, limit: int = 100) -> list[dict[str, object]]:
    """Numbers the simulator has texted for this organisation, the most recently texted first.

    A number is listed once a text has left for it, with as many messages as its thread
    shows (texts sent and replies): one still waiting in the outbox is not on the phone yet.
    """
    phones = list(
        OutboundMessage.objects.filter(
            organisation=organisation, provider=SIMULATOR, channel=Channel.SMS, status=MessageStatus.SENT
        )
        .values("recipient")
        .annotate(messages=Count("id"), last=Max("sent_at"))
        .order_by("-last")[:limit]
    )
    replies = dict(
        InboundMessage.objects.filter(organisation=organisation, sender__in=[p["recipient"] for p in phones])
        .values("sender")
        .annotate(n=Count("id"))
        .values_list("sender", "n")
    )
    for phone in phones:
        phone["messages"] += replies.get(phone["recipient"], 0)
    return phones


def is_simulated_phone(*, organisation: Organisation, phone: str) -> bool:
    return OutboundMessage.objects.filter(
        organisation=organisation, provider=SIMULATOR, recipient=phone
    ).exists()


def sms_thread(*, organisation: Organisation, phone: str, limit: int = 200) -> list[ThreadLine]:
    """Every text between the organisation and one number, oldest first, as a phone would show them."""
    sent = OutboundMessage.objects.filter(
        organisation=organisation, channel=Channel.SMS, recipient=phone, status=MessageStatus.SENT
    ).values_list("sent_at", "body_text", "status")
    received = InboundMessage.objects.filter(organisation=organisation, sender=phone).values_list(
        "received_at", "text", "interpretation"
    )
    lines = [ThreadLine(at, False, text, status) for at, text, status in sent]
    lines += [ThreadLine(at, True, text, interpretation) for at, text, interpretation in received]
    lines.sort(key=lambda line: line.at)
    return lines[-limit:]


def sms_length(text: str, *, price_per_segment: Decimal) -> dict[str, object]:
    """What the SMS editor shows: encoding, segments, price, and what a GSM-7 alternative would cost."""
    measured: SmsLength = measure_sms(text)
    alternative = measure_sms(measured.gsm7_alternative) if measured.encoding == "UCS-2" else measured
    cost = price_per_segment * measured.segments
    alternative_cost = price_per_segment * alternative.segments
    return {
        "text": text,
        "length": measured,
        "cost": cost,
        "alternative": alternative,
        "alternative_cost": alternative_cost,
        "extra_cost": cost - alternative_cost,
        # "One character doubles the cost": the GSM-7 version would take fewer segments.
        "dearer": measured.encoding == "UCS-2" and alternative.segments < measured.segments,
        "characters": len(text),
        # Named by code point too: a no-break space or a thin space is invisible on screen.
        "ucs2_characters": [(character, f"U+{ord(character):04X}") for character in measured.ucs2_characters],
    }


def survey_sms_preview(
    question: Question,
    *,
    opens_survey: bool,
    language: str,
    company: str,
    price_per_segment: Decimal,
    touchpoint: str = "",
) -> dict[str, object]:
    """The SMS a customer would receive for this question (saved or being edited), measured and priced.

    The text comes from the same rendering as the real send; only the measurement is added.
    """
    text = survey_sms_text(
        question, opens_survey=opens_survey, language=language, company=company, touchpoint=touchpoint
    )
    return sms_length(text, price_per_segment=price_per_segment)


# Past these, a survey is too long for a text conversation: customers drop out, and each turn is paid.
SMS_MAX_QUESTIONS = 3
SMS_MAX_PROMPT_SEGMENTS = 2


def sms_survey_cost(
    questions: Sequence[Question], *, language: str, company: str, touchpoint: str, price_per_segment: Decimal
) -> dict[str, object]:
    """What one completed SMS survey costs: the invitation, each further question, the thank-you.

    Follow-up questions are asked only when their condition is met, so the cost runs from the
    path without any follow-up (``shortest``) to the path with all of them (``longest``). The
    survey is flagged when that longest path asks more than ``SMS_MAX_QUESTIONS`` questions or
    one of its texts takes more than ``SMS_MAX_PROMPT_SEGMENTS`` segments.
    """
    texts = [
        survey_sms_text(q, opens_survey=i == 0, language=language, company=company, touchpoint=touchpoint)
        for i, q in enumerate(questions)
    ]
    segments = [measure_sms(text).segments for text in texts]
    thanks = measure_sms(sms_completion_text(language=language, company=company)).segments
    always = {id(q) for q in applicable_questions(questions, {})}

    def path(indexes: list[int]) -> dict[str, object]:
        total = sum(segments[i] for i in indexes) + (thanks if indexes else 0)
        return {
            "questions": len(indexes),
            "messages": len(indexes) + 1 if indexes else 0,
            "segments": total,
            "cost": price_per_segment * total,
        }

    shortest = path([i for i, q in enumerate(questions) if id(q) in always])
    longest = path(list(range(len(questions))))
    long_prompts = [q.code for q, n in zip(questions, segments, strict=True) if n > SMS_MAX_PROMPT_SEGMENTS]
    return {
        "shortest": shortest,
        "longest": longest,
        "long_prompts": long_prompts,
        "too_many_questions": len(questions) > SMS_MAX_QUESTIONS,
        "too_long": len(questions) > SMS_MAX_QUESTIONS or bool(long_prompts),
        "max_questions": SMS_MAX_QUESTIONS,
        "max_segments": SMS_MAX_PROMPT_SEGMENTS,
    }


def messaging_costs(*, organisation: Organisation, months: int = 12) -> dict[str, object]:
    """SMS spend per month, per message and per completed response to an SMS survey."""
    by_month = (
        OutboundMessage.objects.filter(
            organisation=organisation, channel=Channel.SMS, status=MessageStatus.SENT
        )
        .annotate(month=TruncMonth("sent_at"))
        .values("month")
        .annotate(messages=Count("id"), segments=Sum("segments"), cost=Sum("cost"))
        .order_by("-month")[:months]
    )
    responses = dict(
        Response.objects.filter(organisation=organisation, channel=Channel.SMS)
        .annotate(month=TruncMonth("completed_at"))
        .values("month")
        .annotate(n=Count("id"))
        .values_list("month", "n")
    )
    rows = []
    for row in by_month:
        cost = row["cost"] or Decimal(0)
        answered = responses.get(row["month"], 0)
        rows.append(
            {
                "month": row["month"],
                "messages": row["messages"],
                "segments": row["segments"] or 0,
                "cost": cost,
                "per_message": cost / row["messages"] if row["messages"] else None,
                "responses": answered,
                "per_response": cost / answered if answered else None,
            }
        )
    total_cost = sum((row["cost"] for row in rows), Decimal(0))
    total_messages = sum(row["messages"] for row in rows)
    total_responses = sum(row["responses"] for row in rows)
    return {
        "months": rows,
        "cost": total_cost,
        "messages": total_messages,
        "responses": total_responses,
        "per_message": total_cost / total_messages if total_messages else None,
        "per_response": total_cost / total_responses if total_responses else None,
    }


def replied_by_sms(invitation_ids: Sequence[int]) -> set[int]:
    """The invitations whose SMS conversation has heard from the customer."""
    return set(
        InboundMessage.objects.filter(conversation__invitation_id__in=list(invitation_ids)).values_list(
            "conversation__invitation_id", flat=True
        )
    )


# --- Channel settings -------------------------------------------------------------------------

TEST_MESSAGE_KEY = "channel-test-"


def channel_settings_of(*, organisation: Organisation) -> ChannelSettings:
    """The organisation's channel settings row, unsaved and blank (all defaults) when it set nothing."""
    own = ChannelSettings.objects.filter(organisation=organisation).first()
    return own or ChannelSettings(organisation=organisation)


def config_of(own: ChannelSettings | None, *, hooks: str) -> ChannelConfig:
    """What sending needs from an organisation's settings, secrets decrypted (raises SecretUnreadable).

    ``hooks`` is the organisation's slug, which its own webhook addresses carry.
    """
    if own is None:
        return INSTANCE
    return ChannelConfig(
        sms_provider=own.sms_provider,
        sms_sender=own.sms_sender,
        twilio_account_sid=own.twilio_account_sid,
        twilio_auth_token=unseal(own.twilio_auth_token_sealed),
        twilio_messaging_service_sid=own.twilio_messaging_service_sid,
        http_url=own.http_url,
        http_authorization=unseal(own.http_authorization_sealed),
        http_webhook_secret=unseal(own.http_webhook_secret_sealed),
        email_sender_name=own.email_sender_name,
        email_reply_to=own.email_reply_to,
        hooks=hooks,
    )


def channel_settings_by_organisation(organisation_ids: Sequence[int]) -> dict[int, ChannelSettings]:
    """The settings rows of these organisations (those that set something), in one query."""
    return ChannelSettings.objects.in_bulk(list(organisation_ids), field_name="organisation_id")


def provider_name(*, organisation_id: int, channel: str) -> str:
    """The provider this organisation's messages on ``channel`` leave through, as known when queued."""
    if channel != Channel.SMS:
        return provider_for(channel).name
    own = (
        ChannelSettings.objects.filter(organisation_id=organisation_id)
        .values_list("sms_provider", flat=True)
        .first()
    )
    return sms_provider_name(ChannelConfig(sms_provider=own or ""))


def own_provider_config(*, slug: str, provider: str) -> tuple[int, ChannelConfig] | None:
    """The organisation behind a webhook address of its own, and its configuration; None when that
    organisation has no account of its own with ``provider`` (its address then answers nothing)."""
    own = (
        ChannelSettings.objects.select_related("organisation")
        .filter(organisation__slug=slug, sms_provider=provider)
        .first()
    )
    if own is None:
        return None
    return own.organisation_id, config_of(own, hooks=slug)


def sent_test_messages(*, organisation: Organisation, ids: Sequence[int]) -> list[OutboundMessage]:
    """The test messages an administrator sent from the channels page, to show how they went."""
    return list(
        OutboundMessage.objects.filter(
            organisation=organisation,
            id__in=list(ids),
            kind=MessageKind.NOTIFICATION,
            idempotency_key__startswith=TEST_MESSAGE_KEY,
        ).order_by("channel")
    )
