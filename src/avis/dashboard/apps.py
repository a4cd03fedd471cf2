from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The web UI shell."""

    name = "avis.dashboard"
    label = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
