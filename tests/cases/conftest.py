from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from avis.cases.models import CaseEvent
from avis.cases.services import announce_case_event
from avis.surveys.models import Invitation, Response
from avis.surveys.services import submit_response
from tests.helpers import answer, open_all_day, post_interaction
from tests.messaging.providers.conftest import gateway  # noqa: F401 (a local SMS gateway, for texts to owners)


@pytest.fixture
def respond(org, api: Client) -> Callable[..., Response]:  # noqa: ANN001
    """Post an interaction, answer its survey as the customer would; return the stored response."""
    open_all_day(org.organisation, quarantine_days=0)
    counter = iter(range(1, 10_000))

    def respond(
        *,
        customer: str = "C-1",
        touchpoint: str = "call_center.call",
        handled_by: str = "A-7",
        team: str | None = "lyon",
        at: datetime | None = None,
        **answers: Any,
    ) -> Response:
        """Answer one new survey. ``handled_by``: the agent's id (``agent`` is the answer about
        them); ``at``: answer at that moment, through the service (HTTP cannot set the clock).

        The worker's part follows at once: the case's announcements (e-mails, texts, webhooks),
        which a test in a transaction never sees woken, its commit being rolled back."""
        event = f"evt-{next(counter)}"
        reply = post_interaction(
            api, event, customer=customer, touchpoint=touchpoint, agent=handled_by, team=team
        )
        assert reply.status_code in (200, 201), reply.content
        invitation = Invitation.objects.get(interaction__external_id=event)
        values = {k: str(v) for k, v in answers.items()}
        if at is not None:
            response = submit_response(token=invitation.token, answers=values, now=at)
        else:
            page = answer(invitation.token, **values)
            assert page.status_code == 200, page.content
            response = Response.objects.get(invitation=invitation)
        for event_id in CaseEvent.objects.filter(to_announce=True).values_list("id", flat=True):
            announce_case_event(event_id=event_id)
        return response

    return respond
