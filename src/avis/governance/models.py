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


def default_windows() -> list[dict[str, int]]:
    return [{"max": 2, "days": 90}]


class ContactPolicy(models.Model):
    """One immutable version of an organisation's contact rules.

    Editing a policy adds a version; each decision names the version it used,
    so anyone can tell later which rule kept a customer from being asked.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    windows = models.JSONField(
        default=default_windows, help_text='[{"max": 1, "days": 30}, {"max": 4, "days": 365}]'
    )
    quarantine_days = models.PositiveIntegerField(default=14)
    touchpoint_gaps = models.JSONField(default=dict, blank=True, help_text='{"touchpoint_code": days}')
    priorities = models.JSONField(default=dict, blank=True, help_text='{"touchpoint_code": 10}')
    exclusions = models.JSONField(
        default=list, blank=True, help_text='[{"attribute": "employee", "operator": "is_true"}]'
    )
    freshness_hours = models.PositiveIntegerField(default=48, help_text="0: no limit")
    default_sampling_rate = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    sampling_rates = models.JSONField(default=dict, blank=True, help_text='{"touchpoint_code": 0.25}')
    send_from = models.TimeField(default=time(10, 0))
    send_until = models.TimeField(default=time(20, 0))
    send_on_sunday = models.BooleanField(default=False)
    send_on_holidays = models.BooleanField(default=False)
    channel_sending = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"sms": {"from": "10:00", "until": "20:00", "sunday": false, "holidays": false}}',
    )
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
    # Indexed by (customer, solicited_at) below, which serves every lookup by customer.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="decisions", db_index=False)
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.CharField(max_length=32)
    context = models.JSONField(default=dict, blank=True)
    policy = models.ForeignKey(ContactPolicy, on_delete=models.PROTECT, related_name="decisions")
    inclusion_probability = models.FloatField()
    channel = models.CharField(max_length=8, blank=True)
    decided_at = models.DateTimeField()
    planned_at = models.DateTimeField(null=True, blank=True, help_text="When the survey leaves")
    # Past this moment the survey is stale: it is dropped rather than sent late.
    send_before = models.DateTimeField(null=True, blank=True)
    # When this decision counts toward the customer's contact pressure (blank: it does not).
    solicited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "solicited_at"]),
            models.Index(fields=["organisation", "decided_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.outcome}:{self.reason}"

    @property
    def is_solicitation(self) -> bool:
        return self.outcome != Outcome.SKIP


class Metric(models.TextChoices):
    NPS = "nps", _("NPS")
    RESOLUTION = "resolution", _("resolution rate")
    CSAT = "csat", _("CSAT")


class Dimension(models.TextChoices):
    TOUCHPOINT = "touchpoint", _("touchpoint")
    TEAM = "team", _("team or site")
    AGENT = "agent", _("agent")


class Period(models.TextChoices):
    WEEK = "week", _("week")
    MONTH = "month", _("month")
    QUARTER = "quarter", _("quarter")


PERIOD_DAYS = {Period.WEEK: 7, Period.MONTH: 365.25 / 12, Period.QUARTER: 365.25 / 4}
# The margins a precision goal may ask for, in points. Below half a point a goal needs millions of
# answers per stratum (and a margin near 0 divides by zero: 5e-324 squared is 0); above 100 it means
# nothing on a -100…100 scale.
MARGIN_MIN, MARGIN_MAX = 0.5, 100.0


class SamplingGoal(models.Model):
    """A precision an analyst wants: "NPS per agent per month within ±10 points at 95 %".

    Governance turns each goal into an inclusion probability per stratum, just
    high enough for the goal and no higher.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=12, choices=Metric.choices, default=Metric.NPS)
    dimension = models.CharField(max_length=12, choices=Dimension.choices, default=Dimension.TOUCHPOINT)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    margin = models.FloatField(
        validators=[MinValueValidator(0.1)], help_text="Half-width of the interval, in points"
    )
    confidence = models.FloatField(
        default=0.95, validators=[MinValueValidator(0.5), MaxValueValidator(0.999)]
    )
    touchpoint = models.ForeignKey(
        Touchpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="All if blank",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.metric} per {self.dimension} per {self.period} ±{self.margin:g}"


class StratumRate(models.Model):
    """The inclusion probability one goal asks of one stratum, and the figures it came from."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    goal = models.ForeignKey(SamplingGoal, on_delete=models.CASCADE, related_name="rates")
    stratum = models.CharField(max_length=140, help_text="touchpoint code, team code or agent id")
    probability = models.FloatField()
    inputs = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["goal", "stratum"], name="one_rate_per_stratum")]

    def __str__(self) -> str:
        return f"{self.stratum}: {self.probability:.3f}"
