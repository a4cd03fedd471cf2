"""Survey versions, step 3 of 3: questions, invitations and responses always have a version."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("surveys", "0005_existing_surveys_are_version_1")]

    operations = [
        migrations.RemoveConstraint(model_name="question", name="question_code_unique"),
        migrations.RemoveField(model_name="question", name="survey"),
        migrations.AlterField(
            model_name="question",
            name="version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="questions", to="surveys.surveyversion"
            ),
        ),
        migrations.AddConstraint(
            model_name="question",
            constraint=models.UniqueConstraint(fields=("version", "code"), name="question_code_unique_in_version"),
        ),
        migrations.AlterField(
            model_name="invitation",
            name="version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="surveys.surveyversion"
            ),
        ),
        migrations.AlterField(
            model_name="response",
            name="version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="surveys.surveyversion"
            ),
        ),
    ]
