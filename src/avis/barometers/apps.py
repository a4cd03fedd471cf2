from django.apps import AppConfig


class BarometersConfig(AppConfig):
    """Periodic studies on a designed sample: frames, stratified draws, waves, fieldwork."""

    name = "avis.barometers"
    label = "barometers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.barometers import receivers  # noqa: F401  (connects the signal receivers)
