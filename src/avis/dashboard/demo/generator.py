"""Six months of Mutuelle Horizon's history, loaded through avis's own services.

Every interaction goes through ``ingest_interactions`` (replayed as of the
moment it occurred, so governance decides as it would have then), every answer
through ``submit_response`` (so unhappy ones open cases exactly as in
production), every case action through the cases services. Nothing is written
behind avis's back: what the demo shows is what avis does.
"""

from __future__ import annotations

import itertools
import random
import time as clock
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rich.progress import Progress

from avis.accounts.models import ApiKey, Organisation, Role
from avis.accounts.services import add_member, create_api_key, create_organisation
from avis.analytics.sentiment import train_sentiment_model
from avis.barometers.models import Barometer
from avis.cases.models import Case, CaseOutcome, CaseStatus
from avis.cases.services import mark_customer_contacted, resolve_case, take_case
from avis.customers.models import Channel, Customer
from avis.customers.services import opt_out_customer
from avis.dashboard.demo.answers import Lived, answer_delay, answers_for, live_through, will_answer
from avis.dashboard.demo.barometer import LEAST_BASE, assign_regions, load_barometer
from avis.dashboard.demo.barometer import TOUCHPOINT as BAROMETER_TOUCHPOINT
from avis.dashboard.demo.company import (
    ADMIN_EMAIL,
    AGENT_BY_CODE,
    API_KEY_NAME,
    DEMO_PASSWORD,
    ENGLISH_FIRST_NAMES,
    ENGLISH_LAST_NAMES,
    ENGLISH_MAIL_DOMAINS,
    FRENCH_FIRST_NAMES,
    FRENCH_LAST_NAMES,
    FRENCH_MAIL_DOMAINS,
    MANAGER_EMAIL,
    ORGANISATION_NAME,
    ORGANISATION_SLUG,
    POLICY,
    TEAMS,
    TOUCHPOINT_BY_CODE,
    TOUCHPOINTS,
    TouchpointSpec,
    agents_for,
)
from avis.governance.models import Decision
from avis.governance.services import update_policy
from avis.interactions.flow import ingest_interactions
from avis.interactions.models import Interaction
from avis.interactions.schemas import CustomerIn, InteractionIn
from avis.interactions.services import create_touchpoint
from avis.messaging.channel_settings import ChannelForm, save_channel_settings
from avis.messaging.dispatch import record_historical_delivery
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Answer, Invitation, Response, Survey
from avis.surveys.services import InvitationUnavailable, create_standard_survey, submit_response

PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")
HISTORY_DAYS = 182
BATCH = 1000
ANSWER_BATCH = 250
# Monday is the busiest day in a French contact centre, Saturday the quietest.
WEEKDAY_VOLUME = (1.25, 1.1, 1.0, 1.0, 0.95, 0.55, 0.0)
CALL_BACK_NOTES = {
    "fr": (
        "Client rappelé, situation expliquée.",
        "Rappel effectué, dossier relancé auprès du service concerné.",
        "Échange cordial, le client attendait surtout d'être entendu.",
        "Geste commercial proposé, accepté.",
    ),
    "en": (
        "Called the customer back in English, situation explained.",
        "Called back; the file was escalated to the claims team.",
    ),
}
EXTERNAL_PREFIX = {
    "call_center.call": "CTI",
    "web.chat": "CHAT",
    "branch.visit": "RDV",
    "claim.settled": "SIN",
}


@dataclass(frozen=True)
class Person:
    """A member of the mutual: who they are and how they can be reached."""

    external_id: str
    locale: str
    time_zone: str
    phone: str | None
    email: str | None
    attributes: dict[str, Any]

    def as_customer(self) -> CustomerIn:
        return CustomerIn(
            external_id=self.external_id,
            phone=self.phone,
            email=self.email,
            locale=self.locale,
            time_zone=self.time_zone,
            attributes=self.attributes,
        )


@dataclass(frozen=True)
class Event:
    """One interaction of the history and what really happened in it."""

    external_id: str
    person: Person
    touchpoint: str
    agent_code: str
    occurred_at: datetime
    lived: Lived

    def as_item(self) -> InteractionIn:
        agent = AGENT_BY_CODE[self.agent_code]
        return InteractionIn(
            external_id=self.external_id,
            touchpoint=self.touchpoint,
            occurred_at=self.occurred_at,
            customer=self.person.as_customer(),
            agent=agent.code,
            agent_name=agent.name,
            team=agent.team,
            team_name=TEAMS[agent.team],
            attributes={"topic": self.lived.topic},
        )


@dataclass
class LoadReport:
    organisation: Organisation
    api_key: str
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


# --- finding, checking and dropping the demo ---------------------------------------------------


def demo_organisation() -> Organisation | None:
    return Organisation.objects.filter(slug=ORGANISATION_SLUG).first()


def demo_is_complete(organisation: Organisation) -> bool:
    """The API key is made last: without it, a load was interrupted."""
    return ApiKey.objects.filter(organisation=organisation, name=API_KEY_NAME).exists()


@transaction.atomic
def drop_demo(organisation: Organisation) -> None:
    """Delete the demo organisation and everything in it.

    Touchpoints, surveys and questions are protected against deletion while
    anything refers to them, so the rows that refer to them go first.
    """
    for model in (
        Barometer,
        Case,
        Answer,
        Response,
        OutboundMessage,
        Invitation,
        Decision,
        Interaction,
        Survey,
    ):
        model.objects.filter(organisation=organisation).delete()  # type: ignore[attr-defined]
    organisation.delete()


# --- the people -------------------------------------------------------------------------------


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]


def _french_mobile(rng: random.Random) -> str:
    # 06 10–38 and 07 50–89 are metropolitan mobile ranges.
    if rng.random() < 0.7:
        head = f"6{rng.randrange(10, 39)}"
    else:
        head = f"7{rng.randrange(50, 90)}"
    return f"+33{head}{rng.randrange(1_000_000):06d}"


def _british_mobile(rng: random.Random) -> str:
    while True:
        number = f"+447{rng.randrange(400, 990)}{rng.randrange(1_000_000):06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def make_people(rng: random.Random, count: int) -> list[Person]:
    """Members: mostly French, one in ten English-speaking, nearly all reachable somehow."""
    people = []
    emails: set[str] = set()
    for number in range(1, count + 1):
        english = rng.random() < 0.1
        if english:
            first, last = rng.choice(ENGLISH_FIRST_NAMES), rng.choice(ENGLISH_LAST_NAMES)
            domain = _weighted(rng, ENGLISH_MAIL_DOMAINS)
            in_britain = rng.random() < 0.3
            zone = "Europe/London" if in_britain else "Europe/Paris"
            phone = _british_mobile(rng) if in_britain else _french_mobile(rng)
        else:
            first, last = rng.choice(FRENCH_FIRST_NAMES), rng.choice(FRENCH_LAST_NAMES)
            domain = _weighted(rng, FRENCH_MAIL_DOMAINS)
            zone = "Europe/Paris" if rng.random() < 0.98 else "America/Martinique"
            phone = _french_mobile(rng)
        email = None
        if rng.random() < 0.82:
            local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randrange(100)}"])
            email = f"{local}@{domain}"
            while email in emails:
                email = f"{local}{rng.randrange(1000)}@{domain}"
            emails.add(email)
        reachable = rng.random()
        if reachable < 0.004:  # neither: governance will say so ("no channel")
            phone, email = None, None
        elif reachable < 0.08 and email:
            phone = None
        people.append(
            Person(
                external_id=f"ADH-{number:06d}",
                locale="en" if english else "fr",
                time_zone=zone,
                phone=phone,
                email=email,
                attributes={
                    "segment": _weighted(
                        rng, (("particulier", 0.78), ("senior", 0.12), ("professionnel", 0.1))
                    ),
                    "member_since": rng.randrange(1995, 2026),
                },
            )
        )
    return people


# --- the history ------------------------------------------------------------------------------


class _Calendar:
    """Opening days and hours: French public holidays closed, a busier morning."""

    def __init__(self, now: datetime, days: int) -> None:
        self.now = now
        self.first_day = (now - timedelta(days=days)).astimezone(PARIS).date()
        self.days = days
        years = range(self.first_day.year, now.year + 1)
        self.closed = set(holidays.country_holidays("FR", years=years))

    def moment(self, rng: random.Random, spec: TouchpointSpec, *, on: date | None = None) -> datetime | None:
        """A plausible moment for this touchpoint, on a given day or any day of the history."""
        for _ in range(50):
            day = on or self.first_day + timedelta(days=rng.randrange(self.days + 1))
            weekday = day.weekday()
            if weekday not in spec.weekdays or day in self.closed:
                if on:
                    return None
                continue
            if not on and rng.random() * 1.25 > WEEKDAY_VOLUME[weekday]:
                continue
            opens = spec.opens.hour * 60 + spec.opens.minute
            closes = spec.closes.hour * 60 + spec.closes.minute
            minute = rng.uniform(opens, closes)
            if not 9 * 60 <= minute <= 12 * 60 and not 14 * 60 <= minute <= 17 * 60 and rng.random() < 0.4:
                continue  # fewer calls at lunch and at the edges of the day
            local = datetime.combine(day, datetime.min.time(), tzinfo=PARIS) + timedelta(minutes=minute)
            if local < self.now - timedelta(minutes=2):
                return local
            if on:
                return None
        return None


def make_history(
    rng: random.Random, people: Sequence[Person], count: int, *, now: datetime, days: int = HISTORY_DAYS
) -> list[Event]:
    """``count`` interactions over ``days``, oldest first.

    Some members call often and most rarely; an unsolved request often brings
    the member back to the call centre a few days later, where governance's
    quarantine keeps them from being asked again.
    """
    calendar = _Calendar(now, days)
    # Heavy-tailed activity: a few members account for many contacts.
    weights = list(itertools.accumulate(rng.lognormvariate(0, 0.9) for _ in people))
    shares = [spec.share for spec in TOUCHPOINTS]
    serial = itertools.count(1)
    events: list[Event] = []

    def event(person: Person, spec: TouchpointSpec, at: datetime, topic: str, repeat: bool) -> Event:
        candidates = agents_for(spec.code)
        agent = rng.choices(candidates, weights=[a.workload for a in candidates])[0]
        lived = live_through(
            rng,
            touchpoint=spec.code,
            topic=topic,
            agent_code=agent.code,
            occurred_at=at,
            now=now,
            repeat=repeat,
        )
        external_id = f"{EXTERNAL_PREFIX[spec.code]}-{next(serial):07d}"
        return Event(external_id, person, spec.code, agent.code, at, lived)

    while len(events) < count:
        spec = rng.choices(TOUCHPOINTS, weights=shares)[0]
        at = calendar.moment(rng, spec)
        if at is None:
            continue
        person = rng.choices(people, cum_weights=weights)[0]
        topic = rng.choices(spec.topics, weights=[t.weight for t in spec.topics])[0].code
        first = event(person, spec, at, topic, repeat=False)
        events.append(first)
        if first.lived.resolution == "no" and spec.code != "claim.settled" and len(events) < count:
            if rng.random() < 0.4:
                call = TOUCHPOINT_BY_CODE["call_center.call"]
                day = at.date() + timedelta(days=rng.randrange(1, 7))
                again = calendar.moment(rng, call, on=day)
                if again is not None:
                    follow_topic = topic if any(t.code == topic for t in call.topics) else "remboursement"
                    events.append(event(person, call, again, follow_topic, repeat=True))
    events.sort(key=lambda e: e.occurred_at)
    return events


def _batches(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- loading ----------------------------------------------------------------------------------


@dataclass
class _Invited:
    token: str
    channel: str
    locale: str
    planned_at: datetime
    expires_at: datetime
    event: Event


class _Steps:
    """Rich progress bars when there is a console, nothing in tests."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def start(self, label: str, total: int) -> Any:
        return self.progress.add_task(label, total=total) if self.progress else None

    def advance(self, task: Any, by: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(task, by)


def _set_up_organisation() -> Organisation:
    organisation = create_organisation(
        name=ORGANISATION_NAME,
        slug=ORGANISATION_SLUG,
        default_region="FR",
        default_locale="fr",
        default_time_zone="Europe/Paris",
    )
    for spec in TOUCHPOINTS:
        touchpoint = create_touchpoint(
            organisation=organisation, code=spec.code, name_fr=spec.name_fr, name_en=spec.name_en
        )
        create_standard_survey(
            organisation=organisation, touchpoint=touchpoint, name=spec.name_fr, ask_effort=spec.asks_effort
        )
    update_policy(organisation=organisation, changes=POLICY)
    # Its own sender names; the provider stays the installation's (the simulator under `avis demo`).
    save_channel_settings(
        organisation=organisation, form=ChannelForm(sms_sender="Horizon", email_sender_name=ORGANISATION_NAME)
    )
    return organisation


def _ingest_history(
    organisation: Organisation, events: Sequence[Event], *, now: datetime, rng: random.Random, steps: _Steps
) -> tuple[list[_Invited], int]:
    invited: list[_Invited] = []
    opt_outs = 0
    task = steps.start("Interactions", len(events))
    for batch in _batches(events, BATCH):
        by_id = {e.external_id: e for e in batch}
        # One transaction for the batch and its delivery record: once committed,
        # no worker can find these old invitations still waiting to be sent.
        with transaction.atomic():
            results = ingest_interactions(
                organisation=organisation, items=[e.as_item() for e in batch], now=now, replay=True
            )
            record_historical_delivery(organisation=organisation, until=now)
        for result in results:
            if result.errors:
                raise RuntimeError(f"demo data rejected: {result.external_id}: {result.errors}")
            invitation = result.invitation
            if invitation is None:
                continue
            invited.append(
                _Invited(
                    invitation.token,
                    invitation.channel,
                    invitation.locale,
                    invitation.planned_at,
                    invitation.expires_at,
                    by_id[result.external_id],
                )
            )
            # About one asked member in eighty asks never to be surveyed again.
            if rng.random() < 0.0125:
                opt_out_customer(
                    organisation=organisation,
                    external_id=by_id[result.external_id].person.external_id,
                    channel=Channel.ALL if invitation.channel == Channel.EMAIL else Channel.SMS,
                    source="email_link" if invitation.channel == Channel.EMAIL else "sms_stop",
                )
                opt_outs += 1
        steps.advance(task, len(batch))
    return invited, opt_outs


def _awake(moment: datetime, rng: random.Random) -> datetime:
    """An answer due in the small hours is given the next morning instead, when people read their mail."""
    local = moment.astimezone(PARIS)
    if local.hour >= 6:
        return moment
    morning = local.replace(hour=7, minute=0, second=0, microsecond=0)
    return (morning + timedelta(minutes=rng.uniform(0, 120))).astimezone(moment.tzinfo)


def _answer_history(invited: Sequence[_Invited], *, now: datetime, rng: random.Random, steps: _Steps) -> int:
    answering: list[tuple[datetime, _Invited]] = []
    for invitation in invited:
        if not will_answer(
            key=invitation.event.external_id,
            channel=invitation.channel,
            lived_resolution=invitation.event.lived.resolution,
        ):
            continue
        at = _awake(invitation.planned_at + answer_delay(rng, channel=invitation.channel), rng)
        # Not answered yet: the live feed may answer it while the demo runs.
        if at < min(now, invitation.expires_at):
            answering.append((at, invitation))
    answering.sort(key=lambda pair: pair[0])
    task = steps.start("Answers", len(answering))
    answered = 0
    for batch in _batches(answering, ANSWER_BATCH):
        with transaction.atomic():
            for at, invitation in batch:
                answers = answers_for(rng, lived=invitation.event.lived, language=invitation.locale)
                try:
                    submit_response(token=invitation.token, answers=answers, now=at)
                except InvitationUnavailable:  # cancelled by an opt-out before it was answered
                    continue
                answered += 1
        steps.advance(task, len(batch))
    return answered


def _follow_up_history(
    organisation: Organisation,
    *,
    now: datetime,
    rng: random.Random,
    steps: _Steps,
    barometer: bool = False,
) -> int:
    """The managers' past work: most cases called back within a day and closed, recent ones open.

    The barometer's cases (its detractors) are followed up apart, with the barometer's own
    generator: the history's are followed up exactly as without a barometer."""
    manager = get_user_model().objects.get(username=MANAGER_EMAIL)
    found = Case.objects.filter(organisation=organisation, status=CaseStatus.NEW)
    found = (found.filter if barometer else found.exclude)(touchpoint__code=BAROMETER_TOUCHPOINT)
    cases = list(found.order_by("opened_at").values_list("id", "opened_at", "customer__locale"))
    task = steps.start("Barometer cases" if barometer else "Cases followed up", len(cases))
    outcomes = (
        (CaseOutcome.SOLVED, 0.42),
        (CaseOutcome.COMPENSATED, 0.14),
        (CaseOutcome.RETAINED, 0.16),
        (CaseOutcome.LEFT, 0.08),
    )
    closed = 0
    for batch in _batches(cases, ANSWER_BATCH):
        with transaction.atomic():
            for case_id, opened_at, locale in batch:
                age = now - opened_at
                recent = age < timedelta(days=3)
                roll = rng.random()
                if age < timedelta(hours=6) or (recent and roll < 0.25):
                    continue  # still waiting in the queue
                contact_at = opened_at + timedelta(hours=rng.lognormvariate(1.6, 0.9))
                if (recent and roll < 0.5) or contact_at >= now:
                    take_case(organisation=organisation, case_id=case_id, user=manager)
                    continue
                # Closed when the work was done, not when the demo was built: the closed-loop
                # effect counts what customers did after their case (no draw, the stream stays).
                closed_at = min(contact_at + timedelta(hours=2 + case_id % 47), now)
                if rng.random() < 0.12:  # three calls, no answer
                    resolve_case(
                        organisation=organisation,
                        case_id=case_id,
                        user=manager,
                        outcome=CaseOutcome.UNREACHABLE,
                        note="Trois tentatives d'appel sans réponse, message laissé.",
                        at=closed_at,
                    )
                    closed += 1
                    continue
                mark_customer_contacted(
                    organisation=organisation,
                    case_id=case_id,
                    user=manager,
                    at=contact_at,
                    note=rng.choice(CALL_BACK_NOTES["en" if locale == "en" else "fr"]),
                )
                if not recent:
                    resolve_case(
                        organisation=organisation,
                        case_id=case_id,
                        user=manager,
                        outcome=_weighted(rng, outcomes),
                        at=closed_at,
                    )
                    closed += 1
        steps.advance(task, len(batch))
    return closed


def load_demo(
    *,
    customers: int = 5000,
    interactions: int = 30_000,
    seed: int = 2025,
    now: datetime | None = None,
    progress: Progress | None = None,
    barometer: bool = True,
) -> LoadReport:
    """Create Mutuelle Horizon and its last six months, and (``barometer``) its quarterly barometer's
    four past waves; the API key is made last, as a completion mark."""
    started = clock.monotonic()
    now = now or timezone.now()
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    steps = _Steps(progress)

    organisation = _set_up_organisation()
    people = make_people(rng, customers)
    assign_regions(people, seed=seed)
    events = make_history(rng, people, interactions, now=now)
    invited, opt_outs = _ingest_history(organisation, events, now=now, rng=rng, steps=steps)
    answered = _answer_history(invited, now=now, rng=rng, steps=steps)
    # Before the members join, as the history: its detractors' cases email nobody.
    built = (
        load_barometer(organisation=organisation, customers=customers, now=now, seed=seed, steps=steps)
        if barometer and customers >= LEAST_BASE
        else None
    )
    # Members join after the history so that its cases do not email them by the thousand.
    add_member(organisation=organisation, email=ADMIN_EMAIL, role=Role.ADMIN, password=DEMO_PASSWORD)
    add_member(
        organisation=organisation,
        email=MANAGER_EMAIL,
        role=Role.MANAGER,
        password=DEMO_PASSWORD,
        first_name="Claire",
        last_name="Vasseur",
    )
    closed = _follow_up_history(organisation, now=now, rng=rng, steps=steps)
    if built is not None:
        barometer_rng = random.Random(f"barometer-cases-{seed}")  # noqa: S311 - a simulation
        closed += _follow_up_history(organisation, now=now, rng=barometer_rng, steps=steps, barometer=True)
    # What the nightly task would do: the demo's comments are read with a model learned from them.
    train_sentiment_model(organisation=organisation, now=now)
    _, plaintext = create_api_key(organisation=organisation, name=API_KEY_NAME)

    counts = {
        "customers": Customer.objects.filter(organisation=organisation).count(),
        "interactions": len(events),
        "invitations": len(invited),
        "responses": answered,
        "cases": Case.objects.filter(organisation=organisation).count(),
        "cases_closed": closed,
        "opt_outs": opt_outs,
    }
    if built is not None:
        counts["barometer_waves"] = len(built.waves)
        counts["barometer_answers"] = built.answers
    return LoadReport(organisation, plaintext, clock.monotonic() - started, counts)
