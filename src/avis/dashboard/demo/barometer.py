"""Mutuelle Horizon's quarterly barometer: four past waves, run through the barometer's own services.

Each wave is planned, drawn, sent, answered and closed as of its own dates (``now=``), on the
contact ledger the six months of history left: governance's caps and quarantine apply at each
draw as the ledger stood then, invitations go through the outbox and are recorded as sent (as the
history's are), answers go through ``submit_response`` (quotas, cases), closing gives the final
AAPOR dispositions. Nothing is written that the services would not write.

The members' answers follow a hidden truth: a steady relationship in three regions, and in
Hauts-de-France a real fall at the last wave (the local branches closed between the third and
the fourth), which the barometer finds while the transactional flow — about single contacts —
does not. The third wave rewords one question, so its series shows a break.

Its randomness is its own (a ``random.Random`` seeded apart from the history's): the demo's
history, its figures and the tests that read them are the same with or without the barometer.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from avis.accounts.models import Organisation
from avis.barometers.models import RECURRENCE_MONTHS, Barometer, Recurrence, SampledCase, Wave, months_later
from avis.barometers.services import close_wave, create_barometer, draw_wave, plan_wave, start_fieldwork
from avis.customers.models import Channel
from avis.interactions.services import create_touchpoint
from avis.messaging.dispatch import record_historical_delivery
from avis.surveys.design import DraftChanges, QuestionTexts, change_draft, create_survey, publish_survey
from avis.surveys.models import InvitationStatus
from avis.surveys.services import InvitationUnavailable, submit_response

PARIS = ZoneInfo("Europe/Paris")
TOUCHPOINT = "barometer.relation"
WAVES = 4
# The last wave's frame date, this many days before the demo is loaded: its fieldwork is over.
LAST_WAVE_DAYS_AGO = 24
FIELDWORK_DAYS = 14
# Where the members' contracts are managed: the four sites' regions, by share of members.
REGIONS: tuple[tuple[str, float], ...] = (
    ("Auvergne-Rhône-Alpes", 0.30),
    ("Hauts-de-France", 0.24),
    ("Pays de la Loire", 0.22),
    ("Nouvelle-Aquitaine", 0.24),
)
FALLING_REGION = "Hauts-de-France"
# A base this large is stratified by region × segment with a goal per region; a smaller one
# (the tests' demos) by region alone, with an overall goal its frame can meet; below the least,
# a barometer would have nothing to tell (``avis demo --customers 40``) and none is run.
FULL_BASE = 2000
LEAST_BASE = 120
# The hidden truth: shares of promoters and detractors, and the fall of the last wave.
PROMOTERS, DETRACTORS = 0.46, 0.17
FALL = (0.26, 0.36)  # promoters, detractors in the falling region at the last wave: NPS −10 from +29
# Answering a relationship survey, with no contact to talk about: fewer than after a contact.
RESPONSE = {Channel.EMAIL: 0.42, Channel.SMS: 0.36}

SURVEY_NAME = "Baromètre relation adhérents"
KINDS = ("csat", "csat", "csat", "nps", "ces", "text")
TEXTS = {
    "csat": {
        "fr": "Dans l'ensemble, êtes-vous satisfait de {company} ? (1 = pas du tout, 5 = tout à fait)",
        "en": "Overall, how satisfied are you with {company}? (1 = not at all, 5 = very)",
    },
    "csat_2": {
        "fr": "Êtes-vous satisfait de la rapidité de vos remboursements ? (1 = pas du tout, 5 = tout à fait)",
        "en": "How satisfied are you with how quickly you are reimbursed? (1 = not at all, 5 = very)",
    },
    "csat_3": {
        "fr": "Vos garanties sont-elles faciles à comprendre ? (1 = pas du tout, 5 = tout à fait)",
        "en": "Are your guarantees easy to understand? (1 = not at all, 5 = very)",
    },
    "effort": {
        "fr": "Est-il facile de joindre {company} quand vous en avez besoin ? "
        "(1 = très difficile, 7 = très facile)",
        "en": "How easy is it to reach {company} when you need to? (1 = very difficult, 7 = very easy)",
    },
    "comment": {
        "fr": "Que devrait améliorer {company} en priorité ? (facultatif)",
        "en": "What should {company} improve first? (optional)",
    },
}
# The third wave asks about the guarantees differently: a new version, a break in the series.
REWORDED = {
    "csat_3": {
        "fr": "Comprenez-vous ce que vos garanties remboursent ? (1 = pas du tout, 5 = tout à fait)",
        "en": "Do you understand what your guarantees pay for? (1 = not at all, 5 = completely)",
    }
}
COMMENTS = {
    "happy": {
        "fr": (
            "Rien à redire, des remboursements rapides.",
            "Toujours bien reçu, au téléphone comme en agence.",
            "Une mutuelle sérieuse, je la recommande autour de moi.",
        ),
        "en": ("Nothing to complain about, quick refunds.", "Always helpful on the phone."),
    },
    "unhappy": {
        "fr": (
            "Les tarifs augmentent chaque année sans explication.",
            "Les délais de remboursement sont trop longs.",
            "Difficile de comprendre ce qui est couvert.",
        ),
        "en": ("Prices go up every year with no explanation.", "Refunds take far too long."),
    },
    "closed": {
        "fr": (
            "Depuis la fermeture de l'agence de ma ville, je ne sais plus à qui m'adresser.",
            "Il faut maintenant aller à Lille pour un rendez-vous, c'est trop loin.",
            "On ne trouve plus personne près de chez soi depuis la fermeture des agences.",
        ),
        "en": ("Since my local branch closed I don't know who to talk to any more.",),
    },
}


def assign_regions(people: Sequence[Any], *, seed: int) -> None:
    """Give each member the region their contract is managed in, from a generator of its own:
    the history's draws are the same as without regions."""
    rng = random.Random(f"regions-{seed}")  # noqa: S311 - a reproducible simulation, not a secret
    names = [name for name, _ in REGIONS]
    shares = [share for _, share in REGIONS]
    for person in people:
        person.attributes["region"] = rng.choices(names, weights=shares)[0]


@dataclass
class Built:
    barometer: Barometer
    waves: list[Wave]
    answers: int


def _questionnaire(organisation: Organisation, *, at: datetime) -> Any:
    """The relationship survey, built with the survey designer and published before the first wave."""
    touchpoint = create_touchpoint(
        organisation=organisation,
        code=TOUCHPOINT,
        name_fr="Baromètre relation adhérents",
        name_en="Member relationship barometer",
        now=at,
    )
    survey = create_survey(
        organisation=organisation, touchpoint=touchpoint, name=SURVEY_NAME, kinds=KINDS, now=at
    )
    change_draft(
        organisation=organisation,
        survey_id=survey.id,
        changes=DraftChanges(texts={code: QuestionTexts(prompt=text) for code, text in TEXTS.items()}),
    )
    publish_survey(organisation=organisation, survey_id=survey.id, now=at)
    return survey


def _set_up(organisation: Organisation, survey: Any, *, customers: int, at: datetime) -> Barometer:
    full = customers >= FULL_BASE
    goal: dict[str, Any] = (
        {"margin": 8.0, "domain": "region", "domain_margin": 15.0} if full else {"margin": 30.0}
    )
    return create_barometer(
        organisation=organisation,
        name_fr="Baromètre trimestriel des adhérents",
        name_en="Quarterly members' barometer",
        survey_id=survey.id,
        scope=[{"attribute": "segment", "operator": "is_set"}],
        strata=[{"attribute": "region"}, {"attribute": "segment"}] if full else [{"attribute": "region"}],
        mode="both",
        metric="nps",
        confidence=0.95,
        allocation="proportional",
        minimum_per_stratum=10 if full else 8,  # enough respondents per stratum to weight a small wave
        expected_response_rate=0.4,
        recurrence="quarterly",
        fieldwork_days=FIELDWORK_DAYS,
        reminder_gap_days=4,
        reminder_max=2,
        now=at,
        **goal,
    )


def _nps_score(rng: random.Random, promoters: float, detractors: float) -> int:
    roll = rng.random()
    if roll < promoters:
        return rng.choice((9, 10, 10))
    if roll < promoters + detractors:
        return rng.choice((2, 3, 4, 5, 5, 6, 6, 6))
    return rng.choice((7, 8, 8))


def _scale(rng: random.Random, nps: int, top: int) -> str:
    """A 1–``top`` answer that goes with the recommendation, give or take."""
    centre = 1 + (top - 1) * nps / 10
    return str(min(top, max(1, round(centre + rng.gauss(0, 0.8)))))


def _answers(rng: random.Random, *, region: str, last: bool, language: str) -> dict[str, str]:
    falling = last and region == FALLING_REGION
    promoters, detractors = FALL if falling else (PROMOTERS, DETRACTORS)
    nps = _nps_score(rng, promoters, detractors)
    answers = {
        "csat": _scale(rng, nps, 5),
        "csat_2": _scale(rng, max(0, nps - 1), 5),
        "csat_3": _scale(rng, nps, 5),
        "nps": str(nps),
        "effort": _scale(rng, max(0, nps - 4) if falling else nps, 7),
    }
    if rng.random() < 0.3:
        mood = "closed" if falling and nps <= 6 else "happy" if nps >= 9 else "unhappy"
        bank = COMMENTS[mood]
        answers["comment"] = rng.choice(bank.get(language) or bank["fr"])
    return answers


def _at_ten(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=PARIS)


def _run_wave(
    organisation: Organisation,
    barometer: Barometer,
    wave: Wave,
    *,
    rng: random.Random,
    now: datetime,
    last: bool,
) -> int:
    """Draw, send, answer and close one wave as of its own dates; returns the answers given."""
    drawn_at = _at_ten(wave.frame_date)
    draw_wave(
        organisation=organisation,
        barometer_id=barometer.id,
        number=wave.number,
        seed=rng.randrange(2**62),
        now=drawn_at,
    )
    started_at = drawn_at + timedelta(hours=1)
    while started_at.weekday() >= 5:  # the fieldwork opens on a working day
        started_at += timedelta(days=1)
    with transaction.atomic():
        # Sent back then, as the history's invitations: no worker finds them waiting to leave.
        wave = start_fieldwork(
            organisation=organisation, barometer_id=barometer.id, number=wave.number, now=started_at
        )
        ends = wave.fieldwork_ends_at
        record_historical_delivery(organisation=organisation, until=min(ends, now))
    cases = list(
        SampledCase.objects.filter(wave=wave, invitation__status=InvitationStatus.SENT)
        # Everything submit_response reads of the invitation, in this one query.
        .select_related(
            "customer",
            "invitation__version",
            "invitation__organisation",
            "invitation__touchpoint",
            "invitation__interaction",
        )
        .order_by("id")
    )
    answering: list[tuple[datetime, SampledCase]] = []
    for case in cases:
        invitation = case.invitation
        # No STOP is simulated: an opt-out is recorded at the moment the demo is loaded, and would
        # cancel invitations of the history still open then (the history would not be the same).
        if rng.random() >= RESPONSE.get(invitation.channel, 0.36):
            continue
        # Most answer in the first days; a few at the end of the fortnight.
        delay = timedelta(hours=min(24 * FIELDWORK_DAYS - 1, 6 * math.exp(rng.gauss(0, 1.4))))
        at = invitation.sent_at + delay
        local = at.astimezone(PARIS)
        if local.hour < 7:  # read the next morning
            at = (local.replace(hour=7, minute=0) + timedelta(minutes=rng.uniform(0, 150))).astimezone(PARIS)
        if at < min(ends, now):
            answering.append((at, case))
    answering.sort(key=lambda pair: pair[0])
    answered = 0
    with transaction.atomic():
        for at, case in answering:
            answers = _answers(
                rng,
                region=str(case.customer.attributes.get("region", "")),
                last=last,
                language=case.invitation.locale,
            )
            try:
                submit_response(
                    token=case.invitation.token, answers=answers, now=at, invitation=case.invitation
                )
            except InvitationUnavailable:  # cancelled by an opt-out in between
                continue
            answered += 1
    close_wave(organisation=organisation, barometer_id=barometer.id, number=wave.number, now=ends)
    return answered


def load_barometer(
    *, organisation: Organisation, customers: int, now: datetime, seed: int, steps: Any = None
) -> Built:
    """The barometer and its four closed quarterly waves, the last one ending before ``now``
    (``steps``: the loader's progress bars)."""
    # Sampling noise alone calls a steady figure's change significant now and then (5 % of true
    # nulls). The suffix picks, for the default seed (2025), draws where only the planted fall is
    # called (checked on 2026-12-03 at 5,000 members), so a first visit reads the one real story.
    rng = random.Random(f"barometer-{seed}-q")  # noqa: S311 - a reproducible simulation, not a secret
    last_frame = (now - timedelta(days=LAST_WAVE_DAYS_AGO)).astimezone(PARIS).date()
    first_frame = months_later(last_frame, -(WAVES - 1) * RECURRENCE_MONTHS[Recurrence.QUARTERLY])
    set_up_at = _at_ten(first_frame) - timedelta(days=7)
    survey = _questionnaire(organisation, at=set_up_at)
    barometer = _set_up(organisation, survey, customers=customers, at=set_up_at)
    waves = []
    answers = 0
    task = steps.start("Barometer waves", WAVES) if steps else None
    for number in range(1, WAVES + 1):
        wave = plan_wave(
            organisation=organisation,
            barometer_id=barometer.id,
            frame_date=first_frame if number == 1 else None,
        )
        if number == 3:
            change_draft(
                organisation=organisation,
                survey_id=survey.id,
                changes=DraftChanges(texts={code: QuestionTexts(prompt=t) for code, t in REWORDED.items()}),
            )
            publish_survey(
                organisation=organisation,
                survey_id=survey.id,
                now=_at_ten(wave.frame_date) - timedelta(days=3),
            )
        answers += _run_wave(organisation, barometer, wave, rng=rng, now=now, last=number == WAVES)
        waves.append(wave)
        if steps:
            steps.advance(task)
    return Built(barometer, waves, answers)
