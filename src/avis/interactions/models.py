from __future__ import annotations

from django.db import models
from django.utils import timezone, translation

from avis.accounts.models import Organisation
from avis.customers.models import Customer


class Touchpoint(models.Model):
    """One step of the customer journey that can trigger a survey.

    Archived, it refuses new interactions but keeps those it has, their
    decisions and their figures: senders still name it in old events.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    # What senders put in each interaction: fixed once created (renaming changes the names only).
    code = models.CharField(max_length=64)
    name = models.JSONField(default=dict, help_text='{"fr": "…", "en": "…"}')
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="touchpoint_code_unique")
        ]

    def __str__(self) -> str:
        """Its name in the reader's language: what a page prints for ``{{ touchpoint }}``."""
        return self.label(translation.get_language() or "en")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def label(self, language: str) -> str:
        language = language.split("-")[0]
        return self.name.get(language) or self.name.get("en") or self.name.get("fr") or self.code


class Team(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="team_code_unique")]

    def __str__(self) -> str:
        return self.name or self.code


class Agent(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=128)
    name = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="agents")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "external_id"], name="agent_external_id_unique")
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class Interaction(models.Model):
    """One occurrence of a touchpoint for one customer, as the sender reported it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=128)
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    attributes = models.JSONField(default=dict, blank=True)
    # A solicitation made elsewhere: it counts toward contact pressure, never triggers a survey.
    contact_only = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"], name="interaction_external_id_unique"
            )
        ]
        indexes = [models.Index(fields=["organisation", "occurred_at"])]

    def __str__(self) -> str:
        return self.external_id


class InboundWebhook(models.Model):
    """The signed address a CRM or contact-centre platform posts interactions to, one per organisation.

    The token in the address only says which organisation is meant; the HMAC
    with the secret proves who sent the request. After a rotation the previous
    secret keeps working for a while, so the sender can switch without losing events.
    """

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    secret = models.CharField(max_length=128)
    previous_secret = models.CharField(max_length=128, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook of {self.organisation_id}"


class WebhookReceipt(models.Model):
    """A signed request accepted, kept while its timestamp is within the window: the same
    signature again is a replay and is refused (the unique constraint settles a race)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "signature"], name="webhook_receipt_unique")
        ]
        indexes = [models.Index(fields=["signed_at"])]

    def __str__(self) -> str:
        return f"{self.signature[:12]}… signed at {self.signed_at:%Y-%m-%d %H:%M:%S}"
