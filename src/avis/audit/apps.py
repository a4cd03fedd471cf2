from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit trail: who changed what, when, and every sign-in, kept append-only."""

    name = "avis.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.audit import receivers  # noqa: F401
