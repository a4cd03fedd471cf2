"""Answers through avis's real path (ingest, invitation, delivery, respondent submit), dated at will.

The interactions happen now (so governance's freshness rule lets the invitations leave); the
answers carry the date the test wants, which is what every figure is bucketed by.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from django.utils import timezone

from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.surveys.models import Question, QuestionKind, Response, Survey
from avis.surveys.services import submit_response
from tests.factories import interaction_payload
from tests.helpers import open_all_day

_serial = count()


def survey_and_answer(
    org,  # noqa: ANN001
    at: datetime,
    scores: list[int | None],
    touchpoint: str = "call_center.call",
    *,
    agent: str | None = "A-7",
    team: str | None = "lyon",
    agent_scores: list[str] | None = None,
    resolved: list[str] | None = None,
    attributes: dict | None = None,
    comments: list[str] | None = None,
    more: dict[str, list[str]] | None = None,
) -> list[Response]:
    """One interaction per score; None leaves the invitation unanswered. The sending window is
    opened all day first: at night or on a Sunday (the suite's drawn instant) each would be
    deferred, and there would be no invitation to answer."""
    open_all_day(org.organisation)
    occurred = timezone.now() - timedelta(minutes=5)
    items = []
    for _ in range(len(scores)):
        serial = next(_serial)
        payload = interaction_payload(
            f"{touchpoint}-{serial}",
            customer=f"C-{serial}",
            touchpoint=touchpoint,
            occurred_at=occurred,
            agent=agent,
            team=team,
        )
        if attributes:
            payload["customer"]["attributes"] = attributes
        items.append(InteractionIn(**payload))
    results = ingest_interactions(organisation=org.organisation, items=items)
    responses = []
    for i, (result, score) in enumerate(zip(results, scores, strict=True)):
        if score is None:
            continue
        answers = {
            "nps": str(score),
            "resolved": (resolved[i] if resolved else ("yes" if score > 6 else "no")),
        }
        if agent_scores:
            answers["agent"] = agent_scores[i]
        if comments:
            answers["comment"] = comments[i]
        for code, values in (more or {}).items():  # answers to questions a test added, by code
            answers[code] = values[i]
        responses.append(
            submit_response(token=result.invitation.token, answers=answers, now=at + timedelta(hours=1))
        )
    return responses


def ask_effort(org, touchpoint: str = "call_center.call") -> Question:  # noqa: ANN001
    """Add a CES question, with "not applicable", to the touchpoint's survey."""
    survey = Survey.objects.get(organisation=org.organisation, touchpoint__code=touchpoint, is_active=True)
    return Question.objects.create(  # into its published version: a test's shortcut, never the app's
        version=survey.current_version,
        position=survey.current_version.questions.count() + 1,
        code="effort",
        kind=QuestionKind.CES,
        attribution="process",
        prompt={"fr": "Était-ce facile ? (1 = très difficile, 7 = très facile)", "en": "Was it easy?"},
        allows_not_applicable=True,
        not_applicable_label={"fr": "Sans objet", "en": "Not applicable"},
    )
