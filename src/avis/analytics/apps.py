from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Metrics with their sample size and confidence interval."""

    name = "avis.analytics"
    label = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.analytics import receivers  # noqa: F401  (connects the signal receivers)
