from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """GDPR rights over the whole installation: one customer's export and erasure, and the retention
    policy the scheduler applies. It sits above every app whose data it gathers or erases."""

    name = "avis.privacy"
    label = "privacy"
    default_auto_field = "django.db.models.BigAutoField"
