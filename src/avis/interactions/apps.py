from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    """Touchpoints, agents, teams and interactions; ingest."""

    name = "avis.interactions"
    label = "interactions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.interactions import imports  # noqa: F401  (registers the past-interactions import)
