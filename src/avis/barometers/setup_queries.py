"""What the barometer pages read about set-up: the barometers with their waves, the questionnaires."""

from __future__ import annotations

from django.db.models import Prefetch

from avis.accounts.models import Organisation
from avis.barometers.models import Barometer, Wave
from avis.surveys.models import Survey


def barometer_list(*, organisation: Organisation) -> list[Barometer]:
    """The organisation's barometers still in use, newest first, each with its waves (``wave_list``)."""
    return list(
        Barometer.objects.filter(organisation=organisation, archived_at__isnull=True)
        .select_related("survey")
        .prefetch_related(Prefetch("waves", queryset=Wave.objects.order_by("number"), to_attr="wave_list"))
        .order_by("-created_at", "-id")
    )


def relationship_surveys(*, organisation: Organisation, barometer: Barometer | None = None) -> list[Survey]:
    """Published surveys a barometer may ask: those not already used by another barometer."""
    taken = Barometer.objects.filter(organisation=organisation, archived_at__isnull=True)
    if barometer is not None:
        taken = taken.exclude(id=barometer.id)
    return list(
        Survey.objects.filter(organisation=organisation, current_version__isnull=False, is_active=True)
        .exclude(id__in=taken.values("survey_id"))
        .select_related("touchpoint")
        .order_by("name")
    )
