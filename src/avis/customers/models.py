from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation


class PhoneStatus(models.TextChoices):
    OK = "ok", _("ok")
    INVALID = "invalid", _("invalid number")
    UNREACHABLE = "unreachable", _("unreachable")


class EmailStatus(models.TextChoices):
    OK = "ok", _("ok")
    INVALID = "invalid", _("bounced (address refused)")
    COMPLAINED = "complained", _("marked as spam")


class Customer(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=128)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    # What the SMS providers said about this number: "invalid" (no such number,
    # a landline) means never text it again; "unreachable" is worth knowing
    # but may pass (a phone switched off for days).
    phone_status = models.CharField(max_length=12, choices=PhoneStatus.choices, default=PhoneStatus.OK)
    phone_failed_at = models.DateTimeField(null=True, blank=True)
    email = models.EmailField(blank=True)
    # "invalid" (a hard bounce: the mail server refused the address for good) or "complained"
    # (the customer reported our mail as spam): either way, never email it again.
    email_status = models.CharField(max_length=12, choices=EmailStatus.choices, default=EmailStatus.OK)
    email_failed_at = models.DateTimeField(null=True, blank=True)
    locale = models.CharField(max_length=8, default="fr")
    time_zone = models.CharField(max_length=64, default="Europe/Paris")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"], name="customer_external_id_unique"
            )
        ]
        # An inbound text finds its customer by the number it came from.
        indexes = [models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return self.external_id


class Channel(models.TextChoices):
    ALL = "all", _("every channel")
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")


class OptOut(models.Model):
    """A customer's refusal to be surveyed, on one channel or all of them."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="opt_outs")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.ALL)
    source = models.CharField(max_length=64, default="api")
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the customer came back (START by SMS): the row stays in their
    # history, and a later opt-out is a new row.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_source = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "channel"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="one_opt_out_per_channel",
            )
        ]

    def __str__(self) -> str:
        return f"opt-out {self.channel} ({self.source})"


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("customers")
    INTERACTIONS = "interactions", _("past interactions")


class ColumnMapping(models.Model):
    """The last column-to-field mapping an organisation confirmed for one kind of file, offered again."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    columns = models.JSONField(default=dict, help_text='{"column header": "field"}')
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind"], name="one_column_mapping_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} mapping"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("uploaded, columns to map")
    CHECKING = "checking", _("dry run under way")
    CHECKED = "checked", _("dry run done, waiting for confirmation")
    IMPORTING = "importing", _("importing")
    DONE = "done", _("imported")
    FAILED = "failed", _("could not be read")


class DataImport(models.Model):
    """One uploaded file on its way in: its mapping, its dry run, then the import and its report."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    # Where the upload is kept until the import is done, under AVIS_IMPORT_DIR.
    stored_as = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    header = models.JSONField(default=list)
    columns = models.JSONField(default=dict, help_text='{"column header": "field"}')
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    progress = models.FloatField(default=0.0)
    # The dry run's counts and bad rows, then the import's.
    report = models.JSONField(default=dict, blank=True)
    problem = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.file_name}"
