from django.apps import AppConfig


class CasesConfig(AppConfig):
    """Cases opened by unhappy answers: the closed loop."""

    name = "avis.cases"
    label = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.cases import receivers  # noqa: F401  (connects the signal receivers)
