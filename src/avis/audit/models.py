from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """An audit event is never changed nor deleted once written."""


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnly("The audit trail is append-only: events are never updated.")

    def delete(self) -> NoReturn:
        raise AppendOnly("The audit trail is append-only: events are never deleted.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("The audit trail is append-only: events are never updated.")


class AuditEvent(models.Model):
    """One change or sign-in, as it happened: who, what, on which object, before and after.

    ``organisation`` is empty only for a failed sign-in with an address that belongs to nobody:
    no organisation's administrator sees those, the operator does (Django admin, read-only).
    The actor's name is copied in ``actor_label`` so the trail still says who it was once the
    user or key is gone.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "-at"]),
            models.Index(fields=["organisation", "action", "-at"]),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type} {self.object_id}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnly("The audit trail is append-only: events are never updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("The audit trail is append-only: events are never deleted.")

    @property
    def action_label(self) -> Any:
        return ACTIONS.get(self.action, self.action)


# The actions the trail knows, as the page's filter offers them. Services record these names.
ACTIONS: dict[str, Any] = {}


def _actions() -> dict[str, Any]:
    from django.utils.translation import gettext_lazy as _

    return {
        "login.succeeded": _("Signed in"),
        "login.failed": _("Sign-in refused"),
        "password.changed": _("Password changed"),
        "password.reset": _("Password reset by email"),
        "two_factor.enabled": _("Two-factor enabled"),
        "two_factor.disabled": _("Two-factor disabled"),
        "member.invited": _("Colleague invited"),
        "invitation.withdrawn": _("Invitation withdrawn"),
        "member.joined": _("Colleague joined"),
        "role.changed": _("Role changed"),
        "api_key.created": _("API key created"),
        "api_key.revoked": _("API key revoked"),
        "policy.published": _("Contact policy published"),
        "sampling_goal.created": _("Sampling goal created"),
        "sampling_goal.retired": _("Sampling goal retired"),
        "channels.changed": _("Channels changed"),
        "touchpoint.created": _("Touchpoint created"),
        "touchpoint.changed": _("Touchpoint changed"),
        "webhook_secret.rotated": _("Webhook secret rotated"),
        "alert_rule.created": _("Case rule created"),
        "alert_rule.changed": _("Case rule changed"),
        "calendar.changed": _("Business calendar changed"),
        "assignment.changed": _("Assignment ladder changed"),
        "team_owner.added": _("Team owner added"),
        "agent.linked": _("Agent linked"),
        "case_webhook.added": _("Case webhook added"),
        "root_cause.saved": _("Root cause saved"),
        "survey.created": _("Survey created"),
        "survey.published": _("Survey published"),
        "analytics_settings.changed": _("Figures settings changed"),
        "export.downloaded": _("Export downloaded"),
        "customer.exported": _("Customer data exported"),
        "customer.erased": _("Customer erased"),
        "retention.changed": _("Retention policy changed"),
    }


ACTIONS.update(_actions())
