"""Survey versions, step 2 of 3: every existing survey becomes its version 1, published when it was
created, and its invitations, responses and questions belong to that version."""

from django.db import migrations


def to_version_1(apps, schema_editor):  # noqa: ANN001, ANN201
    Survey = apps.get_model("surveys", "Survey")
    SurveyVersion = apps.get_model("surveys", "SurveyVersion")
    Question = apps.get_model("surveys", "Question")
    Invitation = apps.get_model("surveys", "Invitation")
    Response = apps.get_model("surveys", "Response")
    for survey in Survey.objects.all().iterator():
        version = SurveyVersion.objects.create(
            organisation_id=survey.organisation_id, survey=survey, number=1, published_at=survey.created_at
        )
        Survey.objects.filter(id=survey.id).update(current_version=version)
        Question.objects.filter(survey_id=survey.id).update(version=version)
        Invitation.objects.filter(survey_id=survey.id).update(version=version)
        Response.objects.filter(survey_id=survey.id).update(version=version)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0004_survey_versions")]

    operations = [migrations.RunPython(to_version_1, migrations.RunPython.noop)]
