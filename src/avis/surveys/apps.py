from django.apps import AppConfig


class SurveysConfig(AppConfig):
    """Surveys, questions, invitations, responses and the respondent page."""

    name = "avis.surveys"
    label = "surveys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.compiled import keep_long_statements_parsed
        from avis.surveys import receivers  # noqa: F401  (connects the signal receivers)

        keep_long_statements_parsed()  # the respondent's statements are long
