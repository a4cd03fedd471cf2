"""The organisation's own channels over the API (administrators, or an API key): read, set, test.

Secrets are write-only here as on the page: given to set or replace them, read back only as
whether they are set.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.errors import NotFound
from avis.messaging.channel_settings import SECRETS, ChannelForm, save_channel_settings, send_test_messages
from avis.messaging.models import ChannelSettings, OutboundMessage
from avis.messaging.queries import channel_settings_of, sent_test_messages

router = Router(tags=["channels"])


class ChannelsIn(Schema):
    sms_provider: str = Field(
        default="", description='"twilio", "http", "simulator", or "" for the installation\'s provider'
    )
    sms_sender: str = Field(default="", description="3–11 letters and digits, a short code, or a number")
    twilio_account_sid: str = ""
    twilio_auth_token: str = Field(default="", description="write-only; empty keeps the stored one")
    twilio_messaging_service_sid: str = ""
    http_url: str = ""
    http_authorization: str = Field(default="", description="write-only: the Authorization header's value")
    http_webhook_secret: str = Field(default="", description="write-only: the gateway's HMAC key")
    email_sender_name: str = ""
    email_reply_to: str = ""
    clear: list[str] = Field(
        default_factory=list, description=f"stored secrets to remove: {', '.join(SECRETS)}"
    )


class ChannelsOut(Schema):
    sms_provider: str
    sms_sender: str
    twilio_account_sid: str
    twilio_messaging_service_sid: str
    http_url: str
    email_sender_name: str
    email_reply_to: str
    secrets_set: dict[str, bool] = Field(description="which secrets are stored (never their values)")

    @staticmethod
    def of(own: ChannelSettings) -> ChannelsOut:
        return ChannelsOut(
            sms_provider=own.sms_provider,
            sms_sender=own.sms_sender,
            twilio_account_sid=own.twilio_account_sid,
            twilio_messaging_service_sid=own.twilio_messaging_service_sid,
            http_url=own.http_url,
            email_sender_name=own.email_sender_name,
            email_reply_to=own.email_reply_to,
            secrets_set={name: bool(getattr(own, f"{name}_sealed")) for name in SECRETS},
        )


class TestIn(Schema):
    phone: str = Field(default="", description="a mobile to text, e.g. +33 6 12 34 56 78")
    email: str = Field(default="", description="an address to email")


class TestMessageOut(Schema):
    id: int
    channel: str
    recipient: str
    status: str
    error: str
    sent_at: datetime | None

    @staticmethod
    def of(message: OutboundMessage) -> TestMessageOut:
        return TestMessageOut(
            id=message.id,
            channel=message.channel,
            recipient=message.recipient,
            status=message.status,
            error=message.last_error,
            sent_at=message.sent_at,
        )


@router.get("", response=ChannelsOut, summary="The organisation's own channel settings")
def get_channels(request: HttpRequest) -> ChannelsOut:
    return ChannelsOut.of(channel_settings_of(organisation=organisation_of(request)))


@router.put("", response={200: ChannelsOut, 422: dict}, summary="Set the organisation's channels")
def put_channels(request: HttpRequest, payload: ChannelsIn) -> ChannelsOut:
    """Everything is checked before anything is saved; a bad field is named with its reason."""
    values = payload.dict()
    clear = values.pop("clear")
    own = save_channel_settings(
        organisation=organisation_of(request), form=ChannelForm(**values), clear=clear
    )
    return ChannelsOut.of(own)


@router.post("/test", response={202: list[TestMessageOut], 422: dict}, summary="Send a test text and email")
def post_test(request: HttpRequest, payload: TestIn) -> Status:
    """Through the outbox and the organisation's providers, as customers' messages leave; follow them
    with ``GET /channels/test/{id}``."""
    sent = send_test_messages(organisation=organisation_of(request), phone=payload.phone, email=payload.email)
    return Status(202, [TestMessageOut.of(message) for message in sent])


@router.get(
    "/test/{message_id}", response={200: TestMessageOut, 404: dict}, summary="How a test message went"
)
def get_test(request: HttpRequest, message_id: int) -> TestMessageOut:
    found = sent_test_messages(organisation=organisation_of(request), ids=[message_id])
    if not found:
        raise NotFound(_("No such test message."))
    return TestMessageOut.of(found[0])
