from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.interactions.models import Interaction, Touchpoint


class ContactPolicy(models.Model):
    """One immutable version of an organisation's contact rules.

    Editing a policy adds a version; each decision names the version it used,
    so anyone can tell later which rule kept a customer from being asked.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    max_surveys = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1)])
    window_days = models.PositiveIntegerField(default=90, validators=[MinValueValidator(1)])
    quarantine_days = models.PositiveIntegerField(default=14)
    default_sampling_rate = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    sampling_rates = models.JSONField(default=dict, blank=True, help_text='{"touchpoint_code": 0.25}')
    send_from = models.TimeField(default=time(10, 0))
    send_until = models.TimeField(default=time(20, 0))
    send_on_sunday = models.BooleanField(default=False)
    send_on_holidays = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "version"], name="policy_version_unique")
        ]

    def __str__(self) -> str:
        return f"v{self.version}"

    def sampling_rate(self, touchpoint_code: str) -> float:
        return float(self.sampling_rates.get(touchpoint_code, self.default_sampling_rate))


class Outcome(models.TextChoices):
    INVITE = "invite", _("invite")
    SKIP = "skip", _("skip")
    DEFER = "defer", _("defer")


class Decision(models.Model):
    """What governance decided for one interaction, why, and under which policy."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    interaction = models.OneToOneField(Interaction, on_delete=models.CASCADE, related_name="decision")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="decisions")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.CharField(max_length=32)
    context = models.JSONField(default=dict, blank=True)
    policy = models.ForeignKey(ContactPolicy, on_delete=models.PROTECT, related_name="decisions")
    inclusion_probability = models.FloatField()
    channel = models.CharField(max_length=8, blank=True)
    decided_at = models.DateTimeField()
    planned_at = models.DateTimeField(null=True, blank=True, help_text="When the survey leaves")

    class Meta:
        indexes = [
            models.Index(fields=["customer", "planned_at"]),
            models.Index(fields=["organisation", "decided_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.outcome}:{self.reason}"

    @property
    def is_solicitation(self) -> bool:
        return self.outcome != Outcome.SKIP
