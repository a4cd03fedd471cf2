from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.bulk import columns_but_key, insert_rows, mark_inserted_with, new_row
from avis.compiled import bound_value, cast_type, column_names, prepared_cursor, typed_params
from avis.errors import AvisError, ValidationFailed
from avis.governance.models import Decision, Outcome, SamplingGoal
from avis.governance.services import set_stratum_rates
from avis.interactions.models import Touchpoint
from avis.surveys.conditions import applicable_questions
from avis.surveys.models import (
    SCALES,
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
from avis.surveys.queries import (
    active_surveys_by_touchpoint,
    invitation_for_token,
    stratum_observations,
    version_questions,
)
from avis.surveys.signals import AnswerWrite, invitation_sent, response_storing


class InvitationUnavailable(AvisError):
    """The link cannot be answered: unknown, already used or expired."""

    status_code = 410

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class AnswersInvalid(ValidationFailed):
    """Some answers can't be read; ``problems`` maps each question code to what to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        field, message = next(iter(problems.items()))
        super().__init__(message, field=field)
        self.problems = problems


STANDARD_QUESTIONS: list[dict[str, object]] = [
    {
        "code": "nps",
        "kind": QuestionKind.NPS,
        "attribution": Attribution.OVERALL,
        "required": True,
        "prompt": {
            "fr": "Recommanderiez-vous {company} à un proche ? (0 = pas du tout, 10 = certainement)",
            "en": "How likely are you to recommend {company} to a friend? (0 = not at all, 10 = certainly)",
        },
    },
    {
        "code": "resolved",
        "kind": QuestionKind.CHOICE,
        "attribution": Attribution.RESOLUTION,
        "prompt": {
            "fr": "Votre demande a-t-elle été réglée ?",
            "en": "Was your problem resolved?",
        },
        "choices": [
            {"value": "yes", "label": {"fr": "Oui", "en": "Yes"}},
            {"value": "partly", "label": {"fr": "En partie", "en": "Partly"}},
            {"value": "no", "label": {"fr": "Non", "en": "No"}},
        ],
    },
    {
        "code": "agent",
        "kind": QuestionKind.CSAT,
        "attribution": Attribution.AGENT,
        "allows_not_applicable": True,
        "prompt": {
            "fr": "Indépendamment du résultat, comment jugez-vous l'accueil et le travail de votre "
            "interlocuteur ? (1 = très mauvais, 5 = excellent)",
            "en": "Whatever the outcome, how would you rate the courtesy and work of the person "
            "who helped you? (1 = very poor, 5 = excellent)",
        },
        "not_applicable_label": {
            "fr": "Sans objet / ce n'est pas de son fait",
            "en": "Not applicable / not their doing",
        },
    },
    {
        "code": "comment",
        "kind": QuestionKind.TEXT,
        "attribution": Attribution.OVERALL,
        "prompt": {
            "fr": "Voulez-vous nous en dire plus ? (facultatif)",
            "en": "Anything you would like to tell us? (optional)",
        },
    },
]


# Asked after the resolution when a survey measures effort (``ask_effort``): CES, 7 = very easy.
EFFORT_QUESTION: dict[str, object] = {
    "code": "effort",
    "kind": QuestionKind.CES,
    "attribution": Attribution.PROCESS,
    "prompt": {
        "fr": "Était-ce facile d'obtenir ce que vous vouliez ? (1 = très difficile, 7 = très facile)",
        "en": "How easy was it to get what you needed? (1 = very difficult, 7 = very easy)",
    },
}


# Asked at the end when a survey offers a call-back (``ask_callback``): a "no" is honoured by
# the closed loop (the case shows "do not call" and refuses a phone contact).
CALLBACK_QUESTIONS: list[dict[str, object]] = [
    {
        "code": "callback",
        "kind": QuestionKind.CHOICE,
        "attribution": Attribution.OVERALL,
        "prompt": {
            "fr": "Pouvons-nous vous rappeler à ce sujet ?",
            "en": "May we call you back about this?",
        },
        "choices": [
            {"value": "yes", "label": {"fr": "Oui", "en": "Yes"}},
            {"value": "no", "label": {"fr": "Non, merci", "en": "No, thank you"}},
        ],
    },
    {
        "code": "callback_channel",
        "kind": QuestionKind.CHOICE,
        "attribution": Attribution.OVERALL,
        "prompt": {
            "fr": "Si oui, par quel moyen ?",
            "en": "If so, how would you like to be contacted?",
        },
        "choices": [
            {"value": "phone", "label": {"fr": "Téléphone", "en": "Phone"}},
            {"value": "sms", "label": {"fr": "SMS", "en": "Text message"}},
            {"value": "email", "label": {"fr": "E-mail", "en": "Email"}},
        ],
    },
    {
        "code": "callback_time",
        "kind": QuestionKind.CHOICE,
        "attribution": Attribution.OVERALL,
        "prompt": {
            "fr": "À quel moment de la journée ?",
            "en": "At what time of day?",
        },
        "choices": [
            {"value": "morning", "label": {"fr": "Le matin", "en": "Morning"}},
            {"value": "afternoon", "label": {"fr": "L'après-midi", "en": "Afternoon"}},
            {"value": "evening", "label": {"fr": "En soirée", "en": "Evening"}},
        ],
    },
]


@transaction.atomic
def create_standard_survey(
    *,
    organisation: Organisation,
    touchpoint: Touchpoint,
    name: str = "",
    ask_callback: bool = False,
    ask_effort: bool = False,
    now: datetime | None = None,
) -> Survey:
    """The survey every touchpoint starts with, published as version 1: the score, the resolution,
    the agent, a comment — with, when ``ask_effort``, the customer's effort after the resolution,
    and, when ``ask_callback``, whether and how the customer may be called back."""
    now = now or timezone.now()
    Survey.objects.filter(organisation=organisation, touchpoint=touchpoint, is_active=True).update(
        is_active=False
    )
    survey = Survey.objects.create(
        organisation=organisation, touchpoint=touchpoint, name=name or touchpoint.label("en"), created_at=now
    )
    questions = list(STANDARD_QUESTIONS)
    if ask_effort:
        questions.insert(2, EFFORT_QUESTION)
    if ask_callback:
        questions += CALLBACK_QUESTIONS
    version = SurveyVersion.objects.create(
        organisation=organisation, survey=survey, number=1, published_at=now
    )
    Question.objects.bulk_create(
        Question(version=version, position=position, **spec)  # type: ignore[arg-type]
        for position, spec in enumerate(questions, start=1)
    )
    survey.current_version = version
    survey.save(update_fields=["current_version"])
    return survey


def new_token() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def create_invitations(
    *,
    organisation: Organisation,
    decisions: Sequence[Decision],
    expires_at: datetime | None = None,
    surveys: dict[int, Survey] | None = None,
    sampled: bool = False,
) -> list[Invitation]:
    """One invitation per decision to invite or defer, on the channel governance chose.

    ``expires_at``: when they all expire (a barometer's fieldwork end), instead of the usual time to live.
    ``sampled``: they invite customers drawn into a barometer wave's sample.
    ``surveys``: the active surveys by touchpoint, when the caller read them already (the ingest did,
    to decide): the same ones, and a query fewer.
    """
    wanted = [d for d in decisions if d.outcome != Outcome.SKIP]
    if not wanted:
        return []
    if surveys is None:
        surveys = active_surveys_by_touchpoint(organisation=organisation)
    ttl = timedelta(days=settings.AVIS_INVITATION_TTL_DAYS)
    invitations = [
        new_row(
            Invitation,
            organisation=organisation,
            decision_id=decision.id,  # by key, as a decision's interaction: no reference cycle
            interaction_id=decision.interaction_id,
            customer=decision.customer,
            touchpoint_id=decision.touchpoint_id,
            survey=surveys[decision.touchpoint_id],
            # The version it is sent with, for good: a later wording never mixes with this one.
            version_id=surveys[decision.touchpoint_id].current_version_id,
            channel=decision.channel,
            locale=decision.customer.locale,
            token=new_token(),
            planned_at=decision.planned_at,
            expires_at=expires_at or decision.planned_at + ttl,  # type: ignore[operator]
            sampled=sampled,
        )
        for decision in wanted
    ]
    with transaction.atomic(savepoint=False):  # within the ingest's transaction: no savepoint
        insert_rows(invitations)
    return invitations


def mark_invitation_sent(*, invitation_id: int, at: datetime) -> None:
    mark_invitations_sent(invitation_ids=[invitation_id], at=at)


@transaction.atomic(savepoint=False)  # within the booking's transaction: no savepoint
def mark_invitations_sent(
    *, invitation_ids: Collection[int], at: datetime, remind_at: datetime | None = None
) -> list[int]:
    """Record invitations as sent at ``at``, in two statements; returns those that moved.

    Only scheduled ones move (one cancelled meanwhile stays cancelled), and only those are announced.
    ``remind_at`` is when their reminder falls due, if they get one.
    """
    # Locked as read, so none is cancelled between the read and the update.
    moving = list(
        Invitation.objects.select_for_update()
        .filter(id__in=list(invitation_ids), status=InvitationStatus.SCHEDULED)
        .values_list("id", flat=True)
    )
    if not moving:
        return []
    Invitation.objects.filter(id__in=moving).update(
        status=InvitationStatus.SENT, sent_at=at, reminder_due_at=remind_at
    )
    invitation_sent.send(sender=Invitation, invitation_ids=moving)
    return moving


def drop_reminders(*, invitation_ids: Collection[int]) -> int:
    """Take these invitations out of the one-reminder flow (a barometer reminds by its own rules)."""
    return Invitation.objects.filter(id__in=list(invitation_ids), reminder_due_at__isnull=False).update(
        reminder_due_at=None
    )


def cancel_invitation(*, invitation_id: int) -> None:
    Invitation.objects.filter(id=invitation_id, status=InvitationStatus.SCHEDULED).update(
        status=InvitationStatus.CANCELLED
    )


def cancel_invitations_of_decisions(*, organisation: Organisation, decision_ids: list[int]) -> int:
    """Invitations not sent yet whose decision governance withdrew; the outbox then skips their messages."""
    return Invitation.objects.filter(
        organisation=organisation, decision_id__in=decision_ids, status=InvitationStatus.SCHEDULED
    ).update(status=InvitationStatus.CANCELLED)


def _read_answer(question: Question, raw: str | None) -> dict[str, object] | None:
    """Turn one submitted field into answer values, or None when left empty."""
    value = (raw or "").strip()
    if not value:
        if question.required:
            raise ValidationFailed(_("Please answer this question."), field=question.code)
        return None
    if question.allows_not_applicable and value == "na":
        return {"not_applicable": True}
    if question.kind in SCALES:
        low, high = SCALES[question.kind]
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValidationFailed(
                _("Please choose a number from %(low)s to %(high)s.") % {"low": low, "high": high},
                field=question.code,
            )
        return {"number": int(value)}
    if question.kind == QuestionKind.CHOICE:
        if value not in {choice["value"] for choice in question.choices}:
            raise ValidationFailed(_("Please choose one of the options."), field=question.code)
        return {"choice": value}
    return {"text": value[:5000]}


def submit_response(
    *,
    token: str,
    answers: Mapping[str, str | None],
    now: datetime | None = None,
    invitation: Invitation | None = None,
) -> Response:
    """Store the answers to one invitation, once, with what other apps add to it.

    ``invitation`` is the row the caller already read for the token (the respondent's page reads
    it to show the questions), so it is not read again. What the respondent waits for is written
    in as few statements as it can be: the receivers of ``response_storing`` say, from the answers
    in hand, what they add (the roll-ups' counts; a case when the answers meet an alert rule). On
    PostgreSQL the claim of the invitation, the response, its answers and the roll-ups are one
    statement — a happy answer needs no transaction around it; anything to do once the response
    is stored (a case) makes one, in which it follows.
    """
    now = now or timezone.now()
    if invitation is None:
        invitation = invitation_for_token(token)
    if invitation is None or invitation.token != token:
        raise InvitationUnavailable("unknown")
    values, problems = [], {}
    # Only the questions the answers lead to: a follow-up not asked is not required, and
    # whatever was posted for it is not kept.
    for question in applicable_questions(version_questions(invitation.version), answers):
        try:
            values.append((question, _read_answer(question, answers.get(question.code))))
        except ValidationFailed as exc:
            problems[question.code] = exc.message
    if problems:
        with transaction.atomic():
            # Claiming the invitation is the lock: an answer given meanwhile (another tab) is
            # said instead of the problems.
            if not _claim(invitation.pk, now=now):
                raise InvitationUnavailable(_why_unavailable(invitation.pk))
            transaction.set_rollback(True)  # nothing stored: the page asks again
        raise AnswersInvalid(problems)
    response, stored = _unsaved_answer(invitation, [(q, v) for q, v in values if v is not None], now=now)
    # Read by the receivers without a query: the organisation's time zone, the invitation's day.
    response.organisation = invitation.organisation
    replies = response_storing.send(sender=Response, response=response, answers=stored)
    writes = [write for _, write in replies if write]
    afterwards = [write.then for write in writes if write.then is not None]
    with transaction.atomic() if afterwards or connection.vendor != "postgresql" else nullcontext():
        # The claim is the lock: of a double submit (two taps, two tabs) the second waits on the
        # invitation's row, then finds it answered — one response per invitation.
        if not _claim_and_store(invitation.pk, response, stored, writes, now=now):
            raise InvitationUnavailable(_why_unavailable(invitation.pk))
        for then in afterwards:
            then()
    invitation.status = InvitationStatus.RESPONDED
    invitation.responded_at = now
    invitation.reminder_due_at = None  # answered: no reminder
    return response


def _unsaved_answer(
    invitation: Invitation, values: Sequence[tuple[Question, dict[str, object]]], *, now: datetime
) -> tuple[Response, list[Answer]]:
    """The response and its answers, not yet stored, built as ``bulk.new_row`` does (no save(): no
    model signal has a receiver here; the ORM's own create and bulk_create were a third of a happy
    answer's Python)."""
    interaction = invitation.interaction
    response = new_row(
        Response,
        organisation_id=invitation.organisation_id,
        invitation=invitation,
        survey_id=invitation.survey_id,
        version_id=invitation.version_id,
        customer_id=invitation.customer_id,
        interaction_id=invitation.interaction_id,
        touchpoint_id=invitation.touchpoint_id,
        agent_id=interaction.agent_id,
        team_id=interaction.team_id,
        channel=invitation.channel,
        locale=invitation.locale,
        completed_at=now,
    )
    answers = [
        new_row(
            Answer,
            organisation_id=invitation.organisation_id,
            response=response,
            question=question,
            kind=question.kind,
            attribution=question.attribution,
            touchpoint_id=invitation.touchpoint_id,
            agent_id=interaction.agent_id,
            team_id=interaction.team_id,
            answered_at=now,
            **value,
        )
        for question, value in values
    ]
    return response, answers


_CLAIM = (
    "UPDATE {invitations} SET status = %s, responded_at = %s, reminder_due_at = NULL "
    "WHERE id = %s AND expires_at > %s AND status NOT IN (%s, %s)"
)


def _claim_params(invitation_id: int, now: datetime) -> list[object]:
    at = connection.ops.adapt_datetimefield_value(now)  # as the ORM passes it (SQLite: UTC text)
    answered, cancelled = InvitationStatus.RESPONDED.value, InvitationStatus.CANCELLED.value
    return [answered, at, invitation_id, at, answered, cancelled]


def _claim_and_store(
    invitation_id: int,
    response: Response,
    answers: Sequence[Answer],
    writes: Sequence[AnswerWrite] = (),
    *,
    now: datetime,
) -> bool:
    """Claim the invitation (``_claim``) and, if it was free, store the response, its answers and
    the ``writes``' statements; False if it was not. On PostgreSQL one statement (``_store_sql``):
    a round trip and the statement's Python instead of one of each per table, for every respondent.
    SQLite has no writing ``WITH``: its receivers write in their ``then``, in the caller's
    transaction."""
    if connection.vendor != "postgresql":
        if not _claim(invitation_id, now=now):
            return False
        insert_rows([response])
        insert_rows(answers)  # each takes the response's key from the instance (bulk.insert_rows)
        return True
    response_fields, answer_fields = _stored_fields()
    params = _claim_params(invitation_id, now)
    params += [bound_value(field, getattr(response, field.attname), connection) for field in response_fields]
    for answer in answers:
        params += [bound_value(field, getattr(answer, field.attname), connection) for field in answer_fields]
    ctes = ""
    for write in writes:
        if write.ctes:
            ctes += f", {write.ctes}"
            params += write.params
    with prepared_cursor(connection) as cursor:
        cursor.execute(_store_sql(len(answers), ctes), params)
        stored = cursor.fetchone()
    if stored is None:
        return False
    response_id, answer_ids = stored
    mark_inserted_with(
        response, response_id, answers, answer_ids or [], link="response_id", alias=connection.alias
    )
    return True


def _stored_fields() -> tuple[list[Field], list[Field]]:
    """The response's columns but its key; the answer's but its key and its response."""
    return columns_but_key(Response), columns_but_key(Answer, "response")


@lru_cache(maxsize=64)
def _store_sql(answers: int, ctes: str = "") -> str:
    """PostgreSQL: the claim, then the response only if the claim took a row, then its answers.

    ``ctes`` are the receivers' (``AnswerWrite``), after the answer's own. Each value is cast to
    its column's type: a column of nulls in ``VALUES`` would be text. A cast
    to ``varchar(n)`` would cut a longer text silently, so texts are cast without their length
    and the column refuses one too long, as a plain ``INSERT`` does. The answers' keys come back
    in the order of ``VALUES``, which the sequence numbers them in."""
    quote = connection.ops.quote_name
    response_fields, answer_fields = _stored_fields()

    def params(fields: list[Field]) -> str:
        return typed_params(fields, connection)

    def values(fields: list[Field]) -> str:
        return ", ".join(f"v.{quote(field.column)}::{cast_type(field, connection)}" for field in fields)

    def columns(fields: list[Field]) -> str:
        return column_names(fields, connection)

    claim = _CLAIM.format(invitations=quote(Invitation._meta.db_table))
    sql = (
        f"WITH claimed AS ({claim} RETURNING id), "  # noqa: S608 - names from the models
        f"stored AS (INSERT INTO {quote(Response._meta.db_table)} ({columns(response_fields)}) "
        f"SELECT {params(response_fields)} FROM claimed RETURNING id)"
    )
    if not answers:
        return f"{sql}{ctes} SELECT stored.id, NULL FROM stored"  # noqa: S608
    row = "(" + ", ".join(["%s"] * len(answer_fields)) + ")"
    answer_table = quote(Answer._meta.db_table)
    response_column = quote(Answer._meta.get_field("response").column)
    # Only names from the models go into the text; every value is a parameter.
    answered = (
        f"INSERT INTO {answer_table} ({response_column}, {columns(answer_fields)}) "  # noqa: S608
        f"SELECT stored.id, {values(answer_fields)} FROM stored, "
        f"(VALUES {', '.join([row] * answers)}) AS v ({columns(answer_fields)}) RETURNING id"
    )
    keys = "(SELECT array_agg(id ORDER BY id) FROM answered)"
    return f"{sql}, answered AS ({answered}){ctes} SELECT stored.id, {keys} FROM stored"  # noqa: S608


def _claim(invitation_id: int, *, now: datetime) -> bool:
    """Mark the invitation answered unless it is answered, cancelled or expired; False if not.

    One UPDATE written out: the ORM's building of it was 870 Python calls of the answer's 10,700.
    """
    invitations = connection.ops.quote_name(Invitation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM.format(invitations=invitations), _claim_params(invitation_id, now))
        return cursor.rowcount == 1


def _why_unavailable(invitation_id: int) -> str:
    """Why an invitation could not be claimed: used, cancelled or expired."""
    status = Invitation.objects.filter(pk=invitation_id).values_list("status", flat=True).get()
    if status == InvitationStatus.RESPONDED:
        return "used"
    if status == InvitationStatus.CANCELLED:
        return "cancelled"
    return "expired"


def refresh_sampling_rates(*, organisation: Organisation, now: datetime | None = None) -> int:
    """Recompute every active precision goal's inclusion probabilities from the last 90 days.

    Surveys owns what was answered, governance what to do with it; this is where
    the two meet, for the periodic task, the command and a goal just created.
    """
    now = now or timezone.now()
    goals = SamplingGoal.objects.filter(organisation=organisation, is_active=True)
    strata = 0
    for goal in goals:
        observations = stratum_observations(organisation=organisation, goal=goal, now=now)
        rates = set_stratum_rates(organisation=organisation, goal=goal, observations=observations, now=now)
        strata += len(rates)
    return strata


def erase_customer_comments(*, organisation: Organisation, customer_ids: list[int]) -> int:
    """The words erased customers wrote; their scores stay, so the figures don't move."""
    return (
        Answer.objects.filter(organisation=organisation, response__customer_id__in=customer_ids)
        .exclude(text="")
        .update(text="")
    )


def erase_comments_before(*, organisation: Organisation, before: datetime) -> int:
    """Retention: comments written before ``before`` are blanked; the scores beside them stay."""
    return (
        Answer.objects.filter(organisation=organisation, answered_at__lt=before)
        .exclude(text="")
        .update(text="")
    )
