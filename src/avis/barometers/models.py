"""Barometers: periodic studies on a designed sample, their waves, strata and sampled customers.

A barometer is defined once (who is in scope, the strata, the questionnaire, the
precision wanted); each wave draws a stratified random sample from the frame at
its date and follows it through fieldwork. Sampled customers are invited through
the transactional pipeline (interaction → decision → invitation → outbox), so the
contact ledger, channels, sending hours and the respondent's page are the same.
See docs/barometers.md.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.analytics.aapor import DISPOSITION_LABELS, Disposition  # noqa: F401 — Disposition for callers
from avis.customers.models import Customer
from avis.interactions.models import Interaction
from avis.surveys.models import Invitation, Survey, SurveyVersion


class Mode(models.TextChoices):
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")
    # Email where the customer has a usable address, else SMS.
    BOTH = "both", _("email, else SMS")


class Allocation(models.TextChoices):
    PROPORTIONAL = "proportional", _("proportional to the stratum's size")
    NEYMAN = "neyman", _("Neyman (size × spread)")
    MINIMUM = "minimum", _("proportional, with a minimum per stratum")


class Recurrence(models.TextChoices):
    MONTHLY = "monthly", _("monthly")
    QUARTERLY = "quarterly", _("quarterly")
    YEARLY = "yearly", _("yearly")


RECURRENCE_MONTHS = {Recurrence.MONTHLY: 1, Recurrence.QUARTERLY: 3, Recurrence.YEARLY: 12}


def months_later(day: date, months: int) -> date:
    """The same day ``months`` later (earlier when negative), on the month's last day when it has
    no such day (31 January + 1 month → 28 or 29 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError  # pragma: no cover


class BarometerMetric(models.TextChoices):
    NPS = "nps", _("NPS")
    CSAT = "csat", _("satisfaction (CSAT)")


class Barometer(models.Model):
    """One study: its frame (scope rules), strata, questionnaire, mode, precision goal and rhythm."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.JSONField(default=dict, help_text='{"fr": "…", "en": "…"}')
    # The relationship questionnaire, built with the survey designer on its own touchpoint
    # (``barometer.<id>``): each sampled customer gets an interaction on that touchpoint.
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="+")
    # Who is in the frame: every rule must hold, in governance's exclusion format
    # ([{"attribute": "contract", "operator": "equals", "value": "active"}]).
    scope = models.JSONField(default=list, blank=True)
    # The strata: [{"attribute": "region"}, {"attribute": "customer_since", "bands": [2, 5],
    # "years_since": true}] — a banded attribute falls into "<2", "2–5", "≥5".
    strata = models.JSONField(default=list, blank=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.BOTH)
    metric = models.CharField(max_length=8, choices=BarometerMetric.choices, default=BarometerMetric.NPS)
    # "NPS within ±3 points overall and ±8 per region at 95 %".
    margin = models.FloatField(help_text="Overall half-width of the interval, in points")
    domain = models.CharField(max_length=64, blank=True, help_text="Stratum attribute with its own goal")
    domain_margin = models.FloatField(null=True, blank=True, help_text="Half-width per domain, in points")
    confidence = models.FloatField(
        default=0.95, validators=[MinValueValidator(0.5), MaxValueValidator(0.999)]
    )
    allocation = models.CharField(max_length=12, choices=Allocation.choices, default=Allocation.PROPORTIONAL)
    minimum_per_stratum = models.PositiveIntegerField(default=0, help_text="Completes wanted, at least")
    # Used until earlier waves (or the transactional answers) say better.
    expected_response_rate = models.FloatField(
        default=0.3, validators=[MinValueValidator(0.01), MaxValueValidator(1.0)]
    )
    recurrence = models.CharField(max_length=10, choices=Recurrence.choices, default=Recurrence.QUARTERLY)
    fieldwork_days = models.PositiveIntegerField(default=14)
    reminder_gap_days = models.PositiveIntegerField(default=3, help_text="Days between two messages")
    reminder_max = models.PositiveIntegerField(default=2)
    # Population counts per margin, when the frame is not to be trusted for them:
    # {"region": {"north": 120000, "south": 80000}}; each margin sums to the frame.
    population_targets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.label(translation.get_language() or "en")

    def label(self, language: str) -> str:
        language = language.split("-")[0]
        return self.name.get(language) or self.name.get("en") or self.name.get("fr") or f"#{self.pk}"

    @property
    def stratum_attributes(self) -> list[str]:
        return [str(spec["attribute"]) for spec in self.strata]

    def next_frame_date(self, after: date) -> date:
        """One recurrence after ``after``: the frame date of the wave that follows."""
        return months_later(after, RECURRENCE_MONTHS[self.recurrence])

    def period_start(self, frame_date: date) -> date:
        """The first day of the period a wave drawn on ``frame_date`` stands for (one recurrence
        back): what the barometer is compared with in the flow."""
        return months_later(frame_date, -RECURRENCE_MONTHS[self.recurrence])


class WaveStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    DRAWN = "drawn", _("sample drawn")
    FIELDWORK = "fieldwork", _("in fieldwork")
    CLOSED = "closed", _("closed")


class Wave(models.Model):
    """One round of a barometer: its frame at the draw, the design, the seed and the fieldwork window."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    barometer = models.ForeignKey(Barometer, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField()
    # The day the frame is taken and the sample drawn; fieldwork runs from the start for
    # the barometer's fieldwork days.
    frame_date = models.DateField()
    fieldwork_starts_at = models.DateTimeField(null=True, blank=True)
    fieldwork_ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=WaveStatus.choices, default=WaveStatus.PLANNED)
    seed = models.BigIntegerField(null=True, blank=True)
    version = models.ForeignKey(
        SurveyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    frame_size = models.PositiveIntegerField(null=True, blank=True, help_text="Customers in scope")
    # Customers in scope left out at the draw, by reason: {"opted_out": 412, "quarantine": 1030}.
    exclusions = models.JSONField(default=dict, blank=True)
    # What the design promised: the inputs (variance, response rate, where they came from) and
    # the expected margins overall and per domain.
    design = models.JSONField(default=dict, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["barometer", "number"], name="wave_number_unique"),
        ]
        indexes = [models.Index(fields=["status", "fieldwork_ends_at"])]

    def __str__(self) -> str:
        return f"{self.barometer} — wave {self.number}"


class WaveStratum(models.Model):
    """One stratum of one wave: its population N_h, sample n_h, the completes wanted and counted.

    ``completes`` only grows through one conditional UPDATE (``completes < target``), so two
    answers arriving together cannot both take the last place of a full stratum.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="strata")
    key = models.CharField(max_length=255, help_text="The values joined by ' × '")
    values = models.JSONField(default=dict, help_text='{"region": "north", "segment": "pro"}')
    population = models.PositiveIntegerField(help_text="N_h: eligible customers in the frame")
    frame_population = models.PositiveIntegerField(default=0, help_text="In scope, before exclusions")
    sample_size = models.PositiveIntegerField(help_text="n_h: customers drawn")
    target_completes = models.PositiveIntegerField()
    completes = models.PositiveIntegerField(default=0, help_text="Completes counted toward the quota")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wave", "key"], name="wave_stratum_unique")]

    def __str__(self) -> str:
        return self.key

    @property
    def is_full(self) -> bool:
        return self.completes >= self.target_completes


# The final outcome of a sampled case, by AAPOR letter code (I, P, R, NC, O, UH, UO, NE); the
# rules that turn a case's facts into one are avis.analytics.aapor.disposition_of.
DISPOSITION_CHOICES = [(d.value, label) for d, label in DISPOSITION_LABELS.items()]


class SampledCase(models.Model):
    """One customer drawn into one wave: inclusion probability, the invitation, and the raw facts of
    fieldwork (delivered, bounced, STOP, partial, complete) from which the final disposition follows."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="cases")
    stratum = models.ForeignKey(WaveStratum, on_delete=models.CASCADE, related_name="cases")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    inclusion_probability = models.FloatField()
    interaction = models.OneToOneField(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="barometer_case"
    )
    invitation = models.OneToOneField(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="barometer_case"
    )
    channel = models.CharField(max_length=8, blank=True)
    # Why no invitation left (no usable channel for the mode…), blank when one did.
    not_sent_reason = models.CharField(max_length=32, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True, help_text="STOP or opt-out during fieldwork")
    partial_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # A complete that took a place in its stratum's quota; completes beyond it are kept and
    # weighted like any other, but no longer count toward the quota.
    counted = models.BooleanField(default=False)
    disposition = models.CharField(max_length=16, choices=DISPOSITION_CHOICES, blank=True)
    # Which rule gave it (a key of avis.analytics.aapor.DISPOSITION_REASONS), and when.
    disposition_reason = models.CharField(max_length=32, blank=True)
    disposed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["wave", "customer"], name="sampled_once_per_wave"),
        ]
        indexes = [models.Index(fields=["wave", "stratum"])]

    def __str__(self) -> str:
        return f"case {self.pk} of wave {self.wave_id}"
