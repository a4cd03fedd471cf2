from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.surveys.models import Invitation


class ConversationState(models.TextChoices):
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class ConversationEnd(models.TextChoices):
    COMPLETED = "completed", _("every question answered")
    UNCLEAR = "unclear", _("reply still unclear after one clarification")
    OPTED_OUT = "opted_out", _("customer opted out")
    IDLE = "idle", _("customer stopped replying")
    EXPIRED = "expired", _("invitation expired")
    SUPERSEDED = "superseded", _("a newer survey was texted to the same number")
    ANSWERED_ONLINE = "answered_online", _("answered on the web page")


class Conversation(models.Model):
    """An SMS survey in progress: one per SMS invitation, one question at a time.

    Replies find their conversation through the last text we sent to the
    number, so only the newest conversation of a number is ever open.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="conversation")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    phone = models.CharField(max_length=32)
    # Index, in the survey's order, of the question awaiting an answer.
    position = models.PositiveSmallIntegerField(default=0)
    # Question code → the raw value submit_response reads ("9", "yes", "na", a text).
    answers = models.JSONField(default=dict, blank=True)
    # Free text given alongside answers ("9, très bon accueil"), kept for the comment question.
    comments = models.JSONField(default=list, blank=True)
    clarification_sent = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=ConversationState.choices, default=ConversationState.OPEN)
    end_reason = models.CharField(max_length=16, choices=ConversationEnd.choices, blank=True)
    late_reply_answered = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["phone", "state"]),
            models.Index(fields=["state", "last_activity_at"]),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.state})"


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")
    # Not sent because it would have arrived too late to mean anything (Decision.send_before).
    EXPIRED = "expired", _("expired")


class DeliveryStatus(models.TextChoices):
    """What the provider reports after accepting a message (its delivery receipts)."""

    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    UNDELIVERED = "undelivered", _("undelivered")
    FAILED = "failed", _("failed")


class MessageKind(models.TextChoices):
    INVITATION = "invitation", _("survey invitation")
    NOTIFICATION = "notification", _("notification")
    REMINDER = "reminder", _("reminder")
    # The rest of an SMS survey: next questions, the clarification, the thanks.
    CONVERSATION = "conversation", _("SMS conversation")
    # Answers to keywords (STOP, HELP, START): sent even to a customer who just opted out.
    SERVICE = "service", _("keyword answer")


class OutboundMessage(models.Model):
    """The outbox: one row per message to send, the source of truth for dispatch.

    The queue only wakes workers; a worker claims a row with a conditional
    update, and a periodic sweep hands rows left behind by a dead worker to
    another one.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    channel = models.CharField(max_length=8)
    provider = models.CharField(max_length=16)
    recipient = models.CharField(max_length=254)
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    subject = models.CharField(max_length=255, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    priority = models.SmallIntegerField(default=0)
    not_before = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Blank until the provider's first receipt; ``status`` says whether we
    # handed the message over, this says what became of it afterwards.
    delivery_status = models.CharField(max_length=12, choices=DeliveryStatus.choices, blank=True)
    delivery_error_code = models.CharField(max_length=32, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound"
    )
    # Measured on the text actually sent (SMS only): what the operator bills.
    segments = models.PositiveSmallIntegerField(default=0)
    cost = models.DecimalField(max_digits=10, decimal_places=4, default=0)

    class Meta:
        indexes = [
            models.Index(fields=["status", "not_before"]),
            # Receipts find their message by the provider's id, replies by the number texted.
            models.Index(fields=["provider_message_id"]),
            models.Index(fields=["recipient", "sent_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.status})"


class InboundMessage(models.Model):
    """A text a customer sent us, as the provider handed it over.

    The organisation and customer come from the number the text came from.
    One provider number serves every organisation of an avis installation,
    so a number that no customer has, or that customers of several
    organisations share without a recent message telling them apart, leaves
    both empty: attaching the text to a guess would show one tenant's
    customer to another.
    """

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Erasing a customer erases what they wrote to us.
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="inbound_messages"
    )
    reply_to = models.ForeignKey(
        OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    channel = models.CharField(max_length=8, default="sms")
    provider = models.CharField(max_length=16)
    # Whose provider account handed it over: "" the installation's, else the id of the organisation
    # whose own account (and webhook address) it came through. Two accounts may use the same ids.
    account = models.CharField(max_length=20, blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=32)
    recipient = models.CharField(max_length=32, blank=True)
    text = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    # What the reply was read as: answer, unclear, opt_out, opt_in, help, late, unmatched, parked.
    interpretation = models.CharField(max_length=12, blank=True)
    # Parked: sent to a number several organisations share, and more than one could own it (their
    # ids); filed under none and answered by none until reviewed (see inbound.route_inbound).
    parked_among = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            # Providers retry a webhook they think failed: one row per provider message.
            models.UniqueConstraint(
                fields=["provider", "account", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="inbound_message_once_per_account",
            )
        ]
        indexes = [
            models.Index(fields=["organisation", "received_at"]),
            # The sweep looks for texts recorded but never handled.
            models.Index(fields=["interpretation", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} from {self.sender}"


class SmsProvider(models.TextChoices):
    """The SMS providers an organisation may choose; blank keeps the installation's."""

    DEFAULT = "", _("The installation's default")
    TWILIO = "twilio", "Twilio"
    HTTP = "http", _("HTTP gateway")
    SIMULATOR = "simulator", _("Simulator (texts go nowhere)")


class ChannelSettings(models.Model):
    """An organisation's own SMS sender, provider and credentials, email sender name and reply-to.

    A blank field keeps the installation's setting (the environment's). Columns
    ending in ``_sealed`` hold secrets encrypted with AVIS_SECRETS_KEY
    (``avis.encryption``), never the secret itself.
    """

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    sms_provider = models.CharField(max_length=16, choices=SmsProvider.choices, blank=True)
    sms_sender = models.CharField(max_length=16, blank=True)
    twilio_account_sid = models.CharField(max_length=64, blank=True)
    twilio_auth_token_sealed = models.TextField(blank=True)
    twilio_messaging_service_sid = models.CharField(max_length=64, blank=True)
    http_url = models.URLField(max_length=500, blank=True)
    # The value of the Authorization header the gateway expects (e.g. "Bearer …").
    http_authorization_sealed = models.TextField(blank=True)
    # The HMAC key the gateway signs its receipts and inbound texts with.
    http_webhook_secret_sealed = models.TextField(blank=True)
    email_sender_name = models.CharField(max_length=100, blank=True)
    email_reply_to = models.EmailField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"channels of {self.organisation_id}"
