"""What reads barometers: lists, one wave, and the live fieldwork figures per stratum."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.barometers.models import Barometer, SampledCase, Wave, WaveStratum
from avis.errors import NotFound
from avis.surveys.models import InvitationStatus


def barometers(*, organisation: Organisation) -> QuerySet[Barometer]:
    return Barometer.objects.filter(organisation=organisation, archived_at__isnull=True).order_by("id")


def barometer(*, organisation: Organisation, barometer_id: int) -> Barometer:
    found = Barometer.objects.filter(organisation=organisation, id=barometer_id).first()
    if found is None:
        raise NotFound("No such barometer.")
    return found


def waves(*, organisation: Organisation, barometer_id: int) -> QuerySet[Wave]:
    return Wave.objects.filter(organisation=organisation, barometer_id=barometer_id).order_by("number")


def wave(*, organisation: Organisation, barometer_id: int, number: int) -> Wave:
    found = (
        Wave.objects.filter(organisation=organisation, barometer_id=barometer_id, number=number)
        .select_related("barometer")
        .first()
    )
    if found is None:
        raise NotFound("No such wave.")
    return found


@dataclass(frozen=True)
class StratumProgress:
    key: str
    values: dict[str, str]
    population: int
    sampled: int
    invited: int
    delivered: int
    completes: int
    counted: int
    target: int

    @property
    def response_rate(self) -> float | None:
        """Completes per customer sampled: the simplest reading while fieldwork runs (AAPOR's
        RR1 when every non-respondent is eligible; the rates with e are in dispositions.wave_rates)."""
        return self.completes / self.sampled if self.sampled else None

    @property
    def full(self) -> bool:
        return self.counted >= self.target


@dataclass(frozen=True)
class Fieldwork:
    wave: Wave
    strata: list[StratumProgress]
    at: datetime

    @property
    def total(self) -> StratumProgress:
        def add(name: str) -> int:
            return sum(getattr(s, name) for s in self.strata)

        return StratumProgress(
            "",
            {},
            add("population"),
            add("sampled"),
            add("invited"),
            add("delivered"),
            add("completes"),
            add("counted"),
            add("target"),
        )


def fieldwork(*, wave: Wave, now: datetime | None = None) -> Fieldwork:
    """Per stratum: sampled, invited, delivered, completes (counted toward the quota) against target."""
    sent = Q(invitation__status__in=[InvitationStatus.SENT, InvitationStatus.RESPONDED])
    counts = {
        row["stratum_id"]: row
        for row in SampledCase.objects.filter(organisation_id=wave.organisation_id, wave=wave)
        .values("stratum_id")
        .annotate(
            sampled=Count("id", distinct=True),
            invited=Count("id", filter=sent, distinct=True),
            delivered=Count(
                "id",
                filter=Q(delivered_at__isnull=False)
                | Q(invitation__messages__delivery_status="delivered")
                | Q(completed_at__isnull=False),
                distinct=True,
            ),
            completes=Count("id", filter=Q(completed_at__isnull=False), distinct=True),
        )
    }
    strata = []
    for stratum in WaveStratum.objects.filter(organisation_id=wave.organisation_id, wave=wave).order_by(
        "key"
    ):
        row = counts.get(stratum.id, {})
        strata.append(
            StratumProgress(
                key=stratum.key,
                values=stratum.values,
                population=stratum.population,
                sampled=row.get("sampled", 0),
                invited=row.get("invited", 0),
                delivered=row.get("delivered", 0),
                completes=row.get("completes", 0),
                counted=stratum.completes,
                target=stratum.target_completes,
            )
        )
    return Fieldwork(wave, strata, now or timezone.now())
