from __future__ import annotations

from django.db import models
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.customers.models import Customer


class Touchpoint(models.Model):
    """One step of the customer journey that can trigger a survey."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=64, allow_unicode=False)
    name = models.JSONField(default=dict, help_text='{"fr": "…", "en": "…"}')
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="touchpoint_code_unique")
        ]

    def __str__(self) -> str:
        return self.code

    def label(self, language: str) -> str:
        return self.name.get(language) or self.name.get("en") or self.code


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
