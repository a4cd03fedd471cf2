"""Invitations say whether they invite a customer drawn into a barometer wave (additive: the column
has a database default, so the previous version keeps inserting invitations while this one rolls out;
barometers' 0003 marks those already sent)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0006_versions_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="invitation",
            name="sampled",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
