"""An organisation's own channels: its SMS sender and provider, its email sender name and reply-to.

Secrets (a Twilio auth token, a gateway's Authorization header and webhook
secret) are write-only: saved encrypted (``avis.encryption``), never shown
back, never logged; a blank one keeps what is stored. What an organisation
leaves blank stays the installation's setting (the environment's).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from avis.accounts.models import Organisation
from avis.accounts.services import normalise_mobile_phone
from avis.audit.services import record, snapshot
from avis.customers.models import Channel
from avis.encryption import SecretsKeyMissing, seal
from avis.errors import ValidationFailed
from avis.messaging.models import ChannelSettings, OutboundMessage, SmsProvider
from avis.messaging.outbox import queue_notification
from avis.messaging.queries import TEST_MESSAGE_KEY

# An alphanumeric sender ID: what operators accept everywhere (3GPP TS 23.040 allows 11 characters
# of the GSM alphabet; operators refuse accents and most signs), with a letter so it is not a number.
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9]{3,11}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_TWILIO_ACCOUNT = re.compile(r"AC[0-9a-fA-F]{32}")
_TWILIO_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")
SECRETS = ("twilio_auth_token", "http_authorization", "http_webhook_secret")


@dataclass(frozen=True)
class ChannelForm:
    """What the channels page (or a script) submits; a secret left blank keeps the stored one."""

    sms_provider: str = ""
    sms_sender: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_messaging_service_sid: str = ""
    http_url: str = ""
    http_authorization: str = ""
    http_webhook_secret: str = ""
    email_sender_name: str = ""
    email_reply_to: str = ""

    def __repr__(self) -> str:  # a form may reach a log or a traceback: never its secrets
        return f"ChannelForm(sms_provider={self.sms_provider!r}, sms_sender={self.sms_sender!r})"


def normalise_sms_sender(raw: str, *, region: str) -> str:
    """The sender customers see: an alphanumeric sender ID (3–11 letters and digits), a short code,
    or a phone number (E.164, a national one read in ``region``); "" keeps the installation's."""
    value = raw.strip()
    if not value:
        return ""
    compact = value.replace(" ", "")
    if _SHORT_CODE.fullmatch(compact):
        return compact
    if compact.startswith("+") or compact.isdigit():
        try:
            number = phonenumbers.parse(compact, region.upper())
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationFailed(_("This sender is not a valid phone number."), field="sms_sender")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not _SENDER_ID.fullmatch(value):
        raise ValidationFailed(
            _(
                "A sender name has 3 to 11 characters, letters without accents (A–Z) and digits only, "
                "with at least one letter; or give a phone number."
            ),
            field="sms_sender",
        )
    return value


_AUDITED = (
    "sms_provider",
    "sms_sender",
    "twilio_account_sid",
    "twilio_messaging_service_sid",
    "http_url",
    "email_sender_name",
    "email_reply_to",
)


@sensitive_variables("form", "sealed")
@transaction.atomic
def save_channel_settings(
    *, organisation: Organisation, form: ChannelForm, clear: Collection[str] = ()
) -> ChannelSettings:
    """Check everything, then save the organisation's channel settings; secrets encrypted.

    ``clear`` names stored secrets to remove. Raises ValidationFailed naming the
    first field at fault, before anything is written.
    """
    own = ChannelSettings.objects.select_for_update().filter(organisation=organisation).first()
    own = own or ChannelSettings(organisation=organisation)
    before = snapshot(own, fields=_AUDITED) if own.pk else {}
    secrets_before = {name: bool(getattr(own, f"{name}_sealed")) for name in SECRETS}
    if form.sms_provider not in SmsProvider.values:
        raise ValidationFailed(_("Choose one of the SMS providers offered."), field="sms_provider")
    sender = normalise_sms_sender(form.sms_sender, region=organisation.default_region)
    sealed: dict[str, str] = {}
    for name in SECRETS:
        typed = getattr(form, name).strip()
        if typed:
            try:
                sealed[name] = seal(typed)
            except SecretsKeyMissing as exc:
                raise ValidationFailed(exc.message, field=name) from exc
        elif name in clear:
            sealed[name] = ""
        else:
            sealed[name] = getattr(own, f"{name}_sealed")
    _check_provider(form, sealed)
    _check_email(form)
    own.sms_provider, own.sms_sender = form.sms_provider, sender
    own.twilio_account_sid = form.twilio_account_sid.strip()
    own.twilio_messaging_service_sid = form.twilio_messaging_service_sid.strip()
    own.http_url = form.http_url.strip()
    for name, value in sealed.items():
        setattr(own, f"{name}_sealed", value)
    own.email_sender_name, own.email_reply_to = form.email_sender_name.strip(), form.email_reply_to.strip()
    own.updated_at = timezone.now()
    own.save()
    # Which secrets are set, never their values.
    secrets_after = {name: bool(value) for name, value in sealed.items()}
    changed_secrets = {
        name for name in SECRETS if secrets_after[name] != secrets_before[name] or getattr(form, name).strip()
    }
    record(
        organisation=organisation,
        action="channels.changed",
        target=own,
        object_label="channels",
        before=before | {f"{name}_set": secrets_before[name] for name in changed_secrets},
        after=snapshot(own, fields=_AUDITED)
        | {f"{name}_set": secrets_after[name] for name in changed_secrets},
    )
    return own


def _check_provider(form: ChannelForm, sealed: dict[str, str]) -> None:
    """What the chosen provider cannot work without, and credentials that cannot be right."""
    account, service = form.twilio_account_sid.strip(), form.twilio_messaging_service_sid.strip()
    if account and not _TWILIO_ACCOUNT.fullmatch(account):
        raise ValidationFailed(
            _("A Twilio account SID is AC followed by 32 hexadecimal characters."), field="twilio_account_sid"
        )
    if service and not _TWILIO_SERVICE.fullmatch(service):
        raise ValidationFailed(
            _("A Twilio messaging service SID is MG followed by 32 hexadecimal characters."),
            field="twilio_messaging_service_sid",
        )
    if form.sms_provider == SmsProvider.TWILIO:
        if not account:
            raise ValidationFailed(_("Twilio needs the account SID."), field="twilio_account_sid")
        if not sealed["twilio_auth_token"]:
            raise ValidationFailed(_("Twilio needs the account's auth token."), field="twilio_auth_token")
        if not (form.sms_sender.strip() or service):
            raise ValidationFailed(_("Twilio needs a sender or a messaging service SID."), field="sms_sender")
    url = form.http_url.strip()
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError as exc:
            raise ValidationFailed(
                _("Enter the gateway's full address, https://…"), field="http_url"
            ) from exc
    if form.sms_provider == SmsProvider.HTTP and not url:
        raise ValidationFailed(_("The HTTP gateway needs its address."), field="http_url")


def _check_email(form: ChannelForm) -> None:
    name = form.email_sender_name.strip()
    if len(name) > 100 or any(sign in name for sign in '<>@"\r\n'):
        raise ValidationFailed(
            _("A sender name has at most 100 characters, without <, >, @ or quotes."),
            field="email_sender_name",
        )
    if form.email_reply_to.strip():
        try:
            validate_email(form.email_reply_to.strip())
        except ValidationError as exc:
            raise ValidationFailed(_("Enter a valid email address."), field="email_reply_to") from exc


def send_test_messages(*, organisation: Organisation, phone: str, email: str) -> list[OutboundMessage]:
    """A text to ``phone`` and an email to ``email`` (the administrator's own), through the outbox
    and the organisation's providers, exactly as customers' messages leave."""
    phone = normalise_mobile_phone(phone, region=organisation.default_region) if phone.strip() else ""
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ValidationFailed(_("Enter a valid email address."), field="email") from exc
    if not (phone or email):
        raise ValidationFailed(
            _("Add your mobile phone on your profile, or an email address, to receive a test."),
            field="mobile_phone",
        )
    key = f"{TEST_MESSAGE_KEY}{uuid.uuid4().hex}"
    subject = _("Test message from avis for %(organisation)s") % {"organisation": organisation.name}
    text = _(
        "This is a test of %(organisation)s's channel settings in avis: customers' messages leave this way."
    ) % {"organisation": organisation.name}
    sent: list[OutboundMessage] = []
    with transaction.atomic():
        if phone:
            sent += queue_notification(
                organisation=organisation,
                recipients=[phone],
                subject=subject,
                text=text,
                key=key,
                channel=Channel.SMS,
            )
        if email:
            sent += queue_notification(
                organisation=organisation, recipients=[email], subject=subject, text=text, key=key
            )
    return sent
