from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.interactions.models import Interaction
from avis.surveys.models import AboutInteraction, Response


class CaseStatus(models.TextChoices):
    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    CONTACTED = "contacted", _("customer contacted")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")


class CaseOutcome(models.TextChoices):
    SOLVED = "solved", _("problem solved")
    COMPENSATED = "compensated", _("compensated")
    RETAINED = "retained", _("customer retained")
    LEFT = "left", _("customer left")
    UNREACHABLE = "unreachable", _("customer unreachable")


class Case(AboutInteraction):
    """A follow-up of one unhappy response that needs a person."""

    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="case")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cases")
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="+")
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.NEW)
    outcome = models.CharField(max_length=12, choices=CaseOutcome.choices, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    first_contact_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "status", "opened_at"])]

    def __str__(self) -> str:
        return f"case {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED)


class EventKind(models.TextChoices):
    OPENED = "opened", _("case opened")
    TAKEN = "taken", _("taken")
    CONTACTED = "contacted", _("customer contacted")
    RESOLVED = "resolved", _("resolved")
    NOTE = "note", _("note")


class CaseEvent(models.Model):
    """The timeline: every change and note, with who made it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"
