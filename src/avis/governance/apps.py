from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Contact policies and the decision taken for each interaction."""

    name = "avis.governance"
    label = "governance"
    default_auto_field = "django.db.models.BigAutoField"
