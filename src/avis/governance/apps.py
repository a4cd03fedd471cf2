from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Contact policies and the decision taken for each interaction."""

    name = "avis.governance"
    label = "governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.governance import receivers  # noqa: F401  (connects the signal receivers)
