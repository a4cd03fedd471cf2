from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Organisations, users and their roles, API keys."""

    name = "avis.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
