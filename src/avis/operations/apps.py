from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running an installation: backups and restores. No tables: what it knows lives beside the backups."""

    name = "avis.operations"
    label = "operations"
    default_auto_field = "django.db.models.BigAutoField"
