from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Channels, providers and the outbox of messages."""

    name = "avis.messaging"
    label = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.messaging import receivers  # noqa: F401  (connects the signal receivers)
