"""Survey versions, step 1 of 3: the tables and nullable columns (filled by 0005)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("accounts", "0002_membership_mobile_phone"),
        ("surveys", "0003_invitation_reminder_due_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="SurveyVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField(blank=True, help_text="1, 2, …; empty for the draft", null=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organisation"
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "survey",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="versions", to="surveys.survey"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("survey", "number"), name="survey_version_number_unique"),
                    models.UniqueConstraint(
                        condition=models.Q(("number__isnull", True)), fields=("survey",), name="one_draft_per_survey"
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="survey",
            name="current_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="surveys.surveyversion",
            ),
        ),
        migrations.AddField(
            model_name="question",
            name="version",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="surveys.surveyversion"
            ),
        ),
        migrations.AddField(
            model_name="question",
            name="condition",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="invitation",
            name="version",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="surveys.surveyversion"
            ),
        ),
        migrations.AddField(
            model_name="response",
            name="version",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="surveys.surveyversion"
            ),
        ),
    ]
