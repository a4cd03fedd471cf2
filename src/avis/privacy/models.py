from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation

# CNIL, référentiel « gestion commerciale » (2021): customer data are kept for the commercial
# relationship and at most 3 years after the last contact coming from the customer.
DEFAULT_INACTIVE_CUSTOMER_MONTHS = 36
DEFAULT_COMMENT_MONTHS = 24
DEFAULT_MESSAGE_MONTHS = 24
# Never less than a month (a slip of the finger must not erase last week), never more than 10 years.
_MONTHS = [MinValueValidator(1), MaxValueValidator(120)]


class RetentionPolicy(models.Model):
    """How long one organisation keeps what identifies its customers; applied daily by the scheduler."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    comment_months = models.PositiveSmallIntegerField(
        default=DEFAULT_COMMENT_MONTHS,
        validators=_MONTHS,
        help_text=_("Comments and case notes are blanked this many months after they were written."),
    )
    message_months = models.PositiveSmallIntegerField(
        default=DEFAULT_MESSAGE_MONTHS,
        validators=_MONTHS,
        help_text=_("Texts and e-mails, sent and received, are blanked this many months after."),
    )
    inactive_customer_months = models.PositiveSmallIntegerField(
        default=DEFAULT_INACTIVE_CUSTOMER_MONTHS,
        validators=_MONTHS,
        help_text=_("A customer with no interaction for this many months is erased."),
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"retention of {self.organisation_id}"


class RetentionRun(models.Model):
    """One application of the policy to one organisation: what it erased, or why it failed."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    # The policy applied and the counts: {"comments": 3, "messages": 10, "customers": 1, ...}
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "started_at"])]

    def __str__(self) -> str:
        return f"retention run {self.pk}"
