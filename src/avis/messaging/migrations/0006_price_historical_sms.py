"""Price the SMS recorded as sent with 0 segments and no cost.

History loaded by the demo (and moves from other tools) was marked sent without
its text being measured, so the costs page counted texts that cost nothing.
This reads the texts with today's code (``dispatch.backfill_sms_costs``): the
fields it writes have not changed since 0003.
"""

from django.db import migrations


def price(apps, schema_editor):
    from avis.messaging.dispatch import backfill_sms_costs

    backfill_sms_costs()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_inbound_parked_among"),
        # The invitations, surveys and touchpoints whose texts it reads, as today's code reads them.
        ("surveys", "0006_versions_required"),
        ("interactions", "0003_touchpoint_archive_and_webhook"),
        ("accounts", "0005_api_key_scope"),
    ]

    operations = [migrations.RunPython(price, migrations.RunPython.noop)]
