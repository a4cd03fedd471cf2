from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Channels, providers and the outbox of messages."""

    name = "avis.messaging"
    label = "messaging"
    default_auto_field = "django.db.models.BigAutoField"
