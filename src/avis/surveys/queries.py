from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta

from django.db.models import Count, F, Min, Q, prefetch_related_objects

from avis.accounts.models import Organisation
from avis.compiled import CompiledQuery
from avis.governance.models import Decision, Dimension, Metric, SamplingGoal
from avis.governance.precision import StratumObservation
from avis.interactions.models import Touchpoint
from avis.kept import register
from avis.surveys.models import (
    Answer,
    Attribution,
    Invitation,
    InvitationStatus,
    Question,
    QuestionKind,
    Response,
    Survey,
    SurveyVersion,
)
from avis.surveys.wording import prompt_for


def active_surveys_by_touchpoint(*, organisation: Organisation) -> dict[int, Survey]:
    """The survey each touchpoint sends, once it has a published version (a draft sends nothing)."""
    return {
        survey.touchpoint_id: survey
        for survey in Survey.objects.filter(
            organisation=organisation, is_active=True, current_version__isnull=False
        )
    }


def organisation_surveys(*, organisation: Organisation) -> list[Survey]:
    """The organisation's surveys for the designer's list, the active ones first, each with the
    questions of its published version (``current_version.questions``) and its draft, if any."""
    surveys = list(
        Survey.objects.filter(organisation=organisation)
        .select_related("touchpoint", "current_version")
        .prefetch_related("current_version__questions")
        .order_by("-is_active", "name", "id")
    )
    drafts = {
        version.survey_id: version
        for version in SurveyVersion.objects.filter(organisation=organisation, number__isnull=True).annotate(
            question_count=Count("questions")
        )
    }
    for survey in surveys:
        survey.draft = drafts.get(survey.id)  # type: ignore[attr-defined]
        current = survey.current_version
        survey.question_count = len(current.questions.all()) if current else 0  # type: ignore[attr-defined]
    return surveys


def touchpoints_without_survey(*, organisation: Organisation) -> dict[str, Touchpoint]:
    """Active touchpoints with no survey in use, by code: those a survey can be started for."""
    covered = Survey.objects.filter(organisation=organisation, is_active=True).values("touchpoint_id")
    return {
        touchpoint.code: touchpoint
        for touchpoint in Touchpoint.objects.filter(organisation=organisation, archived_at__isnull=True)
        .exclude(id__in=covered)
        .order_by("code")
    }


def survey_for_editing(*, organisation: Organisation, survey_id: int) -> Survey | None:
    """One of the organisation's surveys; another organisation's is not found."""
    return (
        Survey.objects.filter(organisation=organisation, id=survey_id)
        .select_related("touchpoint", "organisation", "current_version")
        .first()
    )


def draft_of(survey: Survey) -> SurveyVersion | None:
    return SurveyVersion.objects.filter(survey=survey, number__isnull=True).first()


def version_being_designed(survey: Survey) -> SurveyVersion | None:
    """What the designer shows: the draft when there is one, else the published version
    (the first change copies it into a draft). Its questions are prefetched, in order."""
    version = draft_of(survey) or survey.current_version
    if version is not None:
        prefetch_related_objects([version], "questions")
    return version


def survey_versions(*, organisation: Organisation, survey: Survey) -> list[SurveyVersion]:
    """The published versions, newest first, with their questions and their ``responses`` count."""
    versions = list(
        SurveyVersion.objects.filter(organisation=organisation, survey=survey, number__isnull=False)
        .select_related("published_by")
        .prefetch_related("questions")
        .order_by("-number")
    )
    counts = dict(
        Response.objects.filter(organisation=organisation, survey=survey)
        .values("version_id")
        .annotate(n=Count("id"))
        .values_list("version_id", "n")
    )
    for version in versions:
        version.responses = counts.get(version.id, 0)  # type: ignore[attr-defined]
    return versions


# What ``services.new_token`` makes (URL-safe base64), within the column's length.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def invitation_for_token(token: str) -> Invitation | None:
    """The token is the respondent's only credential, so it alone selects the row: one statement
    with everything the page and the submit read (the questions come from ``version_questions``).
    A token no invitation could have (a NUL byte, which PostgreSQL refuses) selects nothing."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    # Only what the page and the submit read: each further table joined multiplies PostgreSQL's
    # planning (with the survey and the agent as well, a median 8.6 ms to plan against 0.9 ms, more
    # than the rest of the request's SQL). Not .first(): its ORDER BY would be one more to plan.
    found = _invitation_by_token(token)
    return found[0] if found else None


class ShownInvitations:
    """The invitations whose page this process showed in the last minutes, for their answer.

    A respondent's ``POST`` follows the ``GET`` of the same page a minute later, and the process
    that showed the page (the only one of ``avis serve``; behind nginx, the one the recipe's
    ``hash $request_uri`` sends a token to) would read the same row again: the page's one read,
    half of what PostgreSQL did for a respondent. The answer takes the row the page read instead.
    Only what the page read is trusted — the survey version, the company, the touchpoint, the
    agent; whether the invitation can still be answered is the claim's to say (``submit_response``
    claims it with a conditional ``UPDATE``: answered, cancelled or expired meanwhile, the answer
    is refused and says why). Each row is taken once (a second ``POST`` reads the row again); kept
    at most ``ttl`` seconds and ``most`` rows, the oldest dropped first.
    """

    def __init__(self, *, most: int = 2000, ttl: float = 30 * 60) -> None:
        self.most, self.ttl = most, ttl
        self._shown: OrderedDict[str, tuple[float, Invitation]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, invitation: Invitation) -> None:
        with self._lock:
            self._shown[invitation.token] = (time.monotonic(), invitation)
            self._shown.move_to_end(invitation.token)
            while len(self._shown) > self.most:
                self._shown.popitem(last=False)

    def take(self, token: str) -> Invitation | None:
        with self._lock:
            shown = self._shown.pop(token, None)
        if shown is None or time.monotonic() - shown[0] > self.ttl:
            return None
        return shown[1]

    def forget(self, **kwargs: object) -> None:
        with self._lock:
            self._shown.clear()


shown_invitations = ShownInvitations()
register(shown_invitations)


def invitation_for_answer(token: str) -> Invitation | None:
    """The invitation an answer is for: the row its page was shown from, if this process showed it
    (``ShownInvitations``), else read (``invitation_for_token``)."""
    return shown_invitations.take(token) or invitation_for_token(token)


# The columns the page, its answer and the answer's receivers read (the company's name, time zone
# and region; the agent and team the answer is counted under; the invitation's day and whether a
# barometer drew it): 30 of the 48 that the five rows hold, keys included. Each column costs the
# web process its conversion, whether read or not (the interaction's attributes, a JSON document,
# most of all); one left out that the path reads would cost a statement, which the statement
# counts of tests/surveys/test_submit_path.py would show.
RESPONDENT_COLUMNS = (
    *("organisation_id", "interaction_id", "customer_id", "touchpoint_id", "survey_id", "version_id"),
    *("channel", "locale", "token", "status", "planned_at", "expires_at", "sampled"),
    *("organisation__name", "organisation__slug", "organisation__default_time_zone"),
    *("organisation__default_locale", "organisation__default_region"),
    *("interaction__agent_id", "interaction__team_id", "touchpoint__code", "touchpoint__name"),
    *("version__survey_id", "version__number", "version__published_at"),
)

# Its SQL is built once per process (avis/compiled.py): building it was most of the page's Python.
_invitation_by_token = CompiledQuery(
    lambda token: (
        Invitation.objects.select_related("version", "organisation", "touchpoint", "interaction")
        .only(*RESPONDENT_COLUMNS)
        .filter(token=token)[:1]
    )
)


# Published versions never change (SurveyVersion): their questions are read once per process.
# Keyed by the version's id and publication moment, so a draft (never cached) published later
# under the same id is read afresh.
_published_questions: dict[tuple[int, object], tuple[Question, ...]] = {}


def version_questions(version: SurveyVersion) -> list[Question]:
    """The questions of ``version`` in order; a published version's from the process's cache."""
    if version.published_at is None:
        return list(Question.objects.filter(version_id=version.pk).order_by("position"))
    key = (version.pk, version.published_at)
    questions = _published_questions.get(key)
    if questions is None:
        questions = tuple(Question.objects.filter(version_id=version.pk).order_by("position"))
        _published_questions[key] = questions
    return list(questions)


def forget_version_questions() -> None:
    """Empty the cache (tests whose rolled-back rows reuse ids)."""
    _published_questions.clear()


def invitations_for_decisions(
    *, organisation: Organisation, decision_ids: list[int]
) -> dict[int, Invitation]:
    found: dict[int, Invitation] = {}
    for start in range(0, len(decision_ids), 2000):
        rows = Invitation.objects.filter(
            organisation=organisation, decision_id__in=decision_ids[start : start + 2000]
        )
        found |= {row.decision_id: row for row in rows}
    return found


def readable_answers(answers: list[Answer], language: str, *, company: str) -> list[tuple[str, str]]:
    """Each answer as (question prompt, answer in words), in the reader's language."""
    readable = []
    touchpoints = Touchpoint.objects.in_bulk({answer.touchpoint_id for answer in answers})
    for answer in answers:
        question = answer.question
        touchpoint = touchpoints[answer.touchpoint_id].label(language)
        prompt = prompt_for(question.prompt, language, company=company, touchpoint=touchpoint)
        prompt = prompt.split(" (")[0].strip() or question.code
        if answer.not_applicable:
            value = question.not_applicable_label.get(language) or "n/a"
        elif answer.number is not None:
            value = str(answer.number)
        elif answer.choice:
            labels = {c["value"]: c["label"].get(language) or c["value"] for c in question.choices}
            value = labels.get(answer.choice, answer.choice)
        else:
            value = f"« {answer.text} »"
        readable.append((prompt, value))
    return readable


# --- what precision-targeted sampling learns from the recent past ------------------------------

OBSERVATION_DAYS = 90
# Reasons of decisions that got as far as the sampling draw: the customer could be asked.
_REACHED_DRAW = ("eligible", "quiet_hours", "not_sampled", "stale", "outranked")


def stratum_observations(
    *, organisation: Organisation, goal: SamplingGoal, now: datetime, days: float = OBSERVATION_DAYS
) -> list[StratumObservation]:
    """Per stratum of the goal, the last ``days`` of decisions, invitations and answers."""
    since = now - timedelta(days=days)
    path = {
        Dimension.TOUCHPOINT: "touchpoint__code",
        Dimension.TEAM: "team__code",
        Dimension.AGENT: "agent__external_id",
    }[goal.dimension]
    scope = {"organisation": organisation}
    if goal.touchpoint_id:
        scope["touchpoint_id"] = goal.touchpoint_id

    decisions = (
        Decision.objects.filter(**scope, decided_at__gte=since, decided_at__lt=now)
        .exclude(reason="contact_only")
        .values(stratum=F(f"interaction__{path}"))
        .annotate(total=Count("id"), reached=Count("id", filter=Q(reason__in=_REACHED_DRAW)))
    )
    invitations = (
        Invitation.objects.filter(**scope, planned_at__gte=since, planned_at__lt=now)
        # Asked: due by now and neither cancelled nor failed.
        .exclude(status__in=[InvitationStatus.CANCELLED, InvitationStatus.FAILED])
        .values(stratum=F(f"interaction__{path}"))
        .annotate(sent=Count("id"), answered=Count("id", filter=Q(status=InvitationStatus.RESPONDED)))
    )
    answers = Answer.objects.filter(**scope, answered_at__gte=since, answered_at__lt=now)
    answers = answers.filter(not_applicable=False)
    if goal.metric == Metric.NPS:
        answers = answers.filter(kind=QuestionKind.NPS, attribution=Attribution.OVERALL)
        top, bottom = Q(number__gte=9), Q(number__lte=6)
    elif goal.metric == Metric.CSAT:
        attribution = Attribution.AGENT if goal.dimension == Dimension.AGENT else Attribution.OVERALL
        answers = answers.filter(kind=QuestionKind.CSAT, attribution=attribution)
        top, bottom = Q(number__gte=4), Q(pk__in=[])
    else:
        answers = answers.filter(attribution=Attribution.RESOLUTION).exclude(choice="")
        top, bottom = Q(choice="yes"), Q(pk__in=[])
    counted = answers.values(stratum=F(path)).annotate(
        n=Count("id"), top=Count("id", filter=top), bottom=Count("id", filter=bottom)
    )

    # An organisation younger than the window: rates over the days it has existed.
    first = Decision.objects.filter(**scope, decided_at__gte=since, decided_at__lt=now).aggregate(
        first=Min("decided_at")
    )
    if first["first"] is not None:
        days = max(1.0, min(days, (now - first["first"]).total_seconds() / 86400))
    strata: dict[str, dict[str, int]] = {}
    for row in decisions:
        if row["stratum"] is not None:
            strata[row["stratum"]] = {"interactions": row["total"], "reached": row["reached"]}
    for row in invitations:
        if row["stratum"] in strata:
            strata[row["stratum"]] |= {"invitations": row["sent"], "responses": row["answered"]}
    for row in counted:
        if row["stratum"] in strata:
            strata[row["stratum"]] |= {"answers": row["n"], "top": row["top"], "bottom": row["bottom"]}
    sent = sum(s.get("invitations", 0) for s in strata.values())
    answered = sum(s.get("responses", 0) for s in strata.values())
    overall_rate = answered / sent if sent else 0.3
    return [
        StratumObservation(
            stratum=stratum,
            days=days,
            interactions=values.get("interactions", 0),
            reached_draw=values.get("reached", 0),
            invitations=values.get("invitations", 0),
            responses=values.get("responses", 0),
            answers=values.get("answers", 0),
            top=values.get("top", 0),
            bottom=values.get("bottom", 0),
            organisation_response_rate=overall_rate,
        )
        for stratum, values in sorted(strata.items())
    ]
