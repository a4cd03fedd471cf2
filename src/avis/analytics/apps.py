from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Metrics with their sample size and confidence interval."""

    name = "avis.analytics"
    label = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
