from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running an installation: backups and restores (what they know lives beside the backups), the
    scheduler (one row per periodic task and period it enqueued)."""

    name = "avis.operations"
    label = "operations"
    default_auto_field = "django.db.models.BigAutoField"
