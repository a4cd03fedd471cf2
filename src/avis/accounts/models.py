from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Organisation(models.Model):
    """A tenant: every row of every other app belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    default_region = models.CharField(
        max_length=2, default="FR", help_text="ISO country used to read national phone numbers"
    )
    default_locale = models.CharField(max_length=8, default="fr")
    default_time_zone = models.CharField(max_length=64, default="Europe/Paris")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    ANALYST = "analyst", _("Analyst")
    MANAGER = "manager", _("Manager")
    ADVISOR = "advisor", _("Advisor")


class Scope(models.TextChoices):
    """What an API key may do (docs/security.md). ``admin`` may call every operation; keys made
    before scopes existed have it, so nothing that worked stops working."""

    INGEST = "ingest", _("Ingest: send interactions and opt-outs")
    READ = "read", _("Read: figures, feedback, cases and settings")
    ADMIN = "admin", _("Admin: everything, settings included")


class Membership(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # Where the closed loop may text this person (E.164, a mobile), and about what. Kept per
    # organisation, not on the user: one tenant's admin never reads or changes what another uses.
    mobile_phone = models.CharField(max_length=20, blank=True)
    sms_when_assigned = models.BooleanField(default=True)
    sms_when_escalated = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


class ApiKey(models.Model):
    """A key is shown once at creation; only its SHA-256 digest is kept."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ADMIN)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TeamInvitation(models.Model):
    """An administrator asked a colleague to join with a role; the link in the email is the credential.

    Only the SHA-256 digest of the link's token is kept. It works once, until
    ``expires_at``, unless revoked; accepting it creates the membership.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="team_invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "email"])]

    def __str__(self) -> str:
        return f"{self.email} to {self.organisation_id} ({self.role})"

    def is_pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class RateCount(models.Model):
    """API requests of one key or one client address in one minute (when Redis is not configured).

    Not an organisation's data: a count shared by every web process, so the limit holds however
    many there are. Rows of past minutes are deleted as new minutes begin.
    """

    bucket = models.CharField(max_length=120)
    minute = models.BigIntegerField()  # seconds since the epoch // 60
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "minute"], name="one_count_per_bucket_minute")
        ]

    def __str__(self) -> str:
        return f"{self.bucket} @ {self.minute}: {self.count}"
