"""Waves as the barometer's draw leaves them, built directly (a test's shortcut)."""

from __future__ import annotations

from datetime import datetime, timedelta

from avis.barometers.models import Barometer, SampledCase, Wave, WaveStratum
from avis.customers.models import Customer

# key, N_h, n_h, completes wanted
TWO_STRATA = (("north", 1000, 9, 3), ("south", 1000, 1, 0))


def make_wave(
    organisation,  # noqa: ANN001
    survey,  # noqa: ANN001
    *,
    started: datetime,
    strata: tuple[tuple[str, int, int, int], ...] = TWO_STRATA,
    **fields: object,
) -> tuple[Wave, ...]:
    """A wave in fieldwork stratified by region, and its strata: (wave, stratum, stratum, …)."""
    barometer = Barometer.objects.create(
        organisation=organisation,
        name={"en": "Customer barometer", "fr": "Baromètre clients"},
        survey=survey,
        margin=3,
        strata=[{"attribute": "region"}],
        **fields,
    )
    wave = Wave.objects.create(
        organisation=organisation,
        barometer=barometer,
        number=1,
        frame_date=started.date(),
        fieldwork_starts_at=started,
        fieldwork_ends_at=started + timedelta(days=14),
        status="fieldwork",
        frame_size=sum(population for _, population, _, _ in strata),
    )
    made = [
        WaveStratum.objects.create(
            organisation=organisation,
            wave=wave,
            key=key,
            values={"region": key},
            population=population,
            frame_population=population,
            sample_size=size,
            target_completes=target,
        )
        for key, population, size, target in strata
    ]
    return (wave, *made)


def sample(wave: Wave, stratum: WaveStratum, customer: Customer, **facts: object) -> SampledCase:
    """One sampled customer, drawn with probability n_h / N_h."""
    return SampledCase.objects.create(
        organisation_id=wave.organisation_id,
        wave=wave,
        stratum=stratum,
        customer=customer,
        inclusion_probability=stratum.sample_size / stratum.population,
        **facts,
    )
