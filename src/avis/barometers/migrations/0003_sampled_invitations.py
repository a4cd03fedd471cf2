"""Marks the invitations of customers already drawn into a wave (``Invitation.sampled``), so that
their answers still complete their sampled cases."""

from django.db import migrations


def mark_sampled(apps, schema_editor):
    Invitation = apps.get_model("surveys", "Invitation")
    SampledCase = apps.get_model("barometers", "SampledCase")
    drawn = SampledCase.objects.filter(invitation__isnull=False).values("invitation_id")
    Invitation.objects.filter(id__in=drawn).update(sampled=True)


class Migration(migrations.Migration):
    dependencies = [
        ("barometers", "0002_dispositions_by_aapor_code"),
        ("surveys", "0007_invitation_sampled"),
    ]

    operations = [migrations.RunPython(mark_sampled, migrations.RunPython.noop)]
