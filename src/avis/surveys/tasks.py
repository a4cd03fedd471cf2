from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from avis.accounts.models import Organisation
from avis.governance.models import SamplingGoal
from avis.isolation import apart
from avis.surveys import services


@db_periodic_task(crontab(minute="17"))
def refresh_sampling_rates() -> int:
    """Hourly, so inclusion probabilities follow the answers as they come in."""
    organisation_ids = SamplingGoal.objects.filter(is_active=True).values_list("organisation_id", flat=True)
    strata = 0
    for organisation in Organisation.objects.filter(id__in=organisation_ids).order_by("id"):
        with apart("refresh_sampling_rates", organisation.id):
            strata += services.refresh_sampling_rates(organisation=organisation)
    return strata
