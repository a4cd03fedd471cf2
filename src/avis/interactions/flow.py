"""The flow of one interaction, composed from each domain's services.

Like ``api.py`` this module is a face: it may call the services of every app
the flow crosses (interactions → governance → surveys → messaging). The API,
the file import, the demo and the benchmarks all come through here, so one
interaction is handled the same way whatever door it came in by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import OperationalError, transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import collector_paused, deadlocked
from avis.governance.models import Decision
from avis.governance.queries import decisions_for_interactions
from avis.governance.services import decide_contacts
from avis.interactions.schemas import InteractionIn
from avis.interactions.services import FieldError, record_interactions
from avis.messaging.outbox import queue_invitations
from avis.surveys.models import Invitation
from avis.surveys.queries import active_surveys_by_touchpoint, invitations_for_decisions
from avis.surveys.services import create_invitations

# How many times a batch runs when PostgreSQL breaks a deadlock by rolling it back.
DEADLOCK_ATTEMPTS = 3


@dataclass
class IngestResult:
    external_id: str
    decision: Decision | None = None
    invitation: Invitation | None = None
    replayed: bool = False
    errors: list[FieldError] = field(default_factory=list)


def ingest_interactions(
    *,
    organisation: Organisation,
    items: Sequence[InteractionIn],
    now: datetime | None = None,
    replay: bool = False,
) -> list[IngestResult]:
    """Record interactions, decide for each, invite and queue the messages, in one transaction.

    An item seen before (same external id) returns its original decision.
    """
    now = now or timezone.now()
    with collector_paused():
        return _ingest(organisation=organisation, items=items, now=now, replay=replay)


def _ingest(
    *, organisation: Organisation, items: Sequence[InteractionIn], now: datetime, replay: bool
) -> list[IngestResult]:
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                recorded = record_interactions(organisation=organisation, items=items, now=now)
                fresh = [r.interaction for r in recorded if r.created and r.interaction is not None]
                surveys = active_surveys_by_touchpoint(organisation=organisation)
                decisions = decide_contacts(
                    organisation=organisation,
                    interactions=fresh,
                    surveyable_touchpoint_ids=set(surveys),
                    now=now,
                    replay=replay,
                )
                # The surveys governance decided against, read once.
                invitations = create_invitations(
                    organisation=organisation, decisions=decisions, surveys=surveys
                )
                queue_invitations(organisation=organisation, invitations=invitations)
            break
        except OperationalError as exc:
            # Two batches about the same new customers or agents, locking rows in different orders:
            # PostgreSQL rolls one back whole; it runs again (nothing of it was kept).
            outer = transaction.get_connection().in_atomic_block  # a caller's transaction: its to retry
            if outer or not deadlocked(exc) or attempt == DEADLOCK_ATTEMPTS:
                raise

    decision_by_interaction = {d.interaction_id: d for d in decisions}
    invitation_by_decision = {inv.decision_id: inv for inv in invitations}
    earlier = [r.interaction.id for r in recorded if r.interaction is not None and not r.created]
    if earlier:
        old = decisions_for_interactions(organisation=organisation, interaction_ids=earlier)
        decision_by_interaction |= old
        invitation_by_decision |= invitations_for_decisions(
            organisation=organisation, decision_ids=[d.id for d in old.values()]
        )

    results = []
    for item, outcome in zip(items, recorded, strict=True):
        result = IngestResult(external_id=item.external_id, errors=outcome.errors)
        if outcome.interaction is not None:
            result.replayed = not outcome.created
            result.decision = decision_by_interaction.get(outcome.interaction.id)
            if result.decision is not None:
                result.invitation = invitation_by_decision.get(result.decision.id)
        results.append(result)
    return results
