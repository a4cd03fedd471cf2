"""Keep Mutuelle Horizon busy while the demo runs: new interactions and answers every few seconds.

Each tick sends one to three interactions through the same ingest path as the
API, then lets a few customers answer invitations that have reached them. An
unhappy answer opens a case through the ordinary signal, so the cases page,
which polls every few seconds, shows it arrive.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import close_old_connections, connection
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.cases.models import Case
from avis.customers.models import Customer
from avis.dashboard.demo.answers import answers_for, live_through, will_answer
from avis.dashboard.demo.company import TEAMS, TOUCHPOINT_BY_CODE, TOUCHPOINTS, agents_for
from avis.dashboard.demo.generator import EXTERNAL_PREFIX, make_people
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import CustomerIn, InteractionIn
from avis.surveys.models import Invitation, InvitationStatus
from avis.surveys.services import InvitationUnavailable, submit_response

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
# Some customers answer days late. They also keep the demo alive at night, when
# the sending window is closed and no new invitation reaches anyone.
LATE_ANSWER_CHANCE = 0.35
NEW_MEMBER_CHANCE = 0.05


@dataclass
class Tick:
    interactions: int = 0
    invitations: int = 0
    answers: int = 0
    cases: int = 0


def _seconds_before_answer(external_id: str) -> int:
    """How long after the invitation this customer answers, fixed per interaction: 5 to 65 s."""
    digest = hashlib.blake2b(external_id.encode(), digest_size=2).digest()
    return 5 + int.from_bytes(digest, "big") % 61


class LiveFeed:
    """One simulated stream of activity for one organisation; ``tick`` is one step of it."""

    def __init__(self, *, organisation_id: int, seed: int | None = None) -> None:
        self.organisation_id = organisation_id
        self.rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret

    def tick(self, *, now: datetime | None = None) -> Tick:
        now = now or timezone.now()
        organisation = Organisation.objects.get(id=self.organisation_id)
        tick = Tick()
        items = self._new_interactions(organisation, now)
        results = ingest_interactions(organisation=organisation, items=items, now=now)
        tick.interactions = sum(1 for r in results if not r.errors and not r.replayed)
        tick.invitations = sum(1 for r in results if r.invitation is not None)
        answered = self._answer_some(organisation, now)
        tick.answers = len(answered)
        tick.cases = Case.objects.filter(organisation=organisation, response_id__in=answered).count()
        return tick

    def run(self, *, interval: float, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; a failed tick (a locked database, say) is logged and skipped."""
        try:
            while not stop.wait(interval):
                close_old_connections()
                try:
                    tick = self.tick()
                except Exception:
                    logger.exception("demo live feed: tick failed")
                    continue
                if tick.cases:
                    logger.info("demo live feed: %s new case(s)", tick.cases)
        finally:
            connection.close()  # this thread's own connection

    # --- what happens in one tick ---------------------------------------------------------

    def _open_touchpoints(self, now: datetime) -> list[str]:
        local = now.astimezone(PARIS)
        return [
            spec.code
            for spec in TOUCHPOINTS
            if local.weekday() in spec.weekdays and spec.opens <= local.time() < spec.closes
        ]

    def _new_interactions(self, organisation: Organisation, now: datetime) -> list[InteractionIn]:
        count = self.rng.choice((1, 1, 2, 3))
        # At night only the claims system's batch still settles files.
        open_now = self._open_touchpoints(now) or ["claim.settled"]
        shares = [TOUCHPOINT_BY_CODE[code].share for code in open_now]
        members = list(
            Customer.objects.filter(organisation=organisation)
            .order_by("?")
            .values_list("external_id", flat=True)[:count]
        )
        items = []
        for index in range(count):
            spec = TOUCHPOINT_BY_CODE[self.rng.choices(open_now, weights=shares)[0]]
            if index < len(members) and self.rng.random() >= NEW_MEMBER_CHANCE:
                customer = CustomerIn(external_id=members[index])
            else:
                newcomer = make_people(self.rng, 1)[0].as_customer()
                customer = newcomer.model_copy(update={"external_id": f"ADH-N{uuid.uuid4().hex[:8].upper()}"})
            candidates = agents_for(spec.code)
            agent = self.rng.choices(candidates, weights=[a.workload for a in candidates])[0]
            topic = self.rng.choices(spec.topics, weights=[t.weight for t in spec.topics])[0]
            items.append(
                InteractionIn(
                    external_id=f"{EXTERNAL_PREFIX[spec.code]}-L{uuid.uuid4().hex[:12].upper()}",
                    touchpoint=spec.code,
                    occurred_at=now - timedelta(seconds=self.rng.randrange(5, 90)),
                    customer=customer,
                    agent=agent.code,
                    agent_name=agent.name,
                    team=agent.team,
                    team_name=TEAMS[agent.team],
                    attributes={"topic": topic.code},
                )
            )
        return items

    def _answer_some(self, organisation: Organisation, now: datetime) -> list[int]:
        """Answer one or two invitations that reached their customer; returns the responses' ids."""
        waiting = list(
            Invitation.objects.filter(
                organisation=organisation,
                status__in=[InvitationStatus.SENT, InvitationStatus.SCHEDULED],
                planned_at__lte=now,
                expires_at__gt=now,
            )
            .select_related("interaction__agent", "touchpoint")
            .order_by("-planned_at")[:200]
        )
        ready = [
            inv
            for inv in waiting
            if inv.planned_at + timedelta(seconds=_seconds_before_answer(inv.interaction.external_id)) <= now
        ]
        fresh = [
            inv
            for inv in ready
            if now - inv.planned_at < timedelta(hours=1)
            and will_answer(key=inv.interaction.external_id, channel=inv.channel)
        ]
        chosen = fresh[: self.rng.choice((0, 1, 1, 2))]
        late = [inv for inv in ready if inv not in fresh]
        if late and self.rng.random() < LATE_ANSWER_CHANCE:
            chosen.append(self.rng.choice(late))
        answered = []
        for invitation in chosen:
            interaction = invitation.interaction
            lived = live_through(
                self.rng,
                touchpoint=invitation.touchpoint.code,
                topic=str(interaction.attributes.get("topic", "")),
                agent_code=interaction.agent.external_id if interaction.agent else None,
                occurred_at=interaction.occurred_at,
                now=now,
            )
            answers = answers_for(self.rng, lived=lived, language=invitation.locale)
            try:
                response = submit_response(token=invitation.token, answers=answers, now=now)
            except InvitationUnavailable:  # answered or cancelled meanwhile
                continue
            answered.append(response.id)
        return answered


def start_live_feed(
    *, organisation: Organisation, interval: float, seed: int | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Run a feed in a daemon thread; set the returned event and join the thread to stop it."""
    stop = threading.Event()
    feed = LiveFeed(organisation_id=organisation.id, seed=seed)
    thread = threading.Thread(
        target=feed.run, kwargs={"interval": interval, "stop": stop}, name="avis-demo-live", daemon=True
    )
    thread.start()
    return thread, stop
