from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.bulk import insert_rows, new_row
from avis.errors import AvisError, NotFound, ValidationFailed
from avis.governance.models import Decision, Outcome, SamplingGoal
from avis.governance.services import set_stratum_rates
from avis.interactions.models import Touchpoint
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
)
from avis.surveys.queries import active_surveys_by_touchpoint, stratum_observations
from avis.surveys.signals import invitation_sent, response_completed


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
) -> Survey:
    """The survey every touchpoint starts with: the score, the resolution, the agent, a comment —
    with, when ``ask_effort``, the customer's effort after the resolution, and, when
    ``ask_callback``, whether and how the customer may be called back."""
    Survey.objects.filter(organisation=organisation, touchpoint=touchpoint, is_active=True).update(
        is_active=False
    )
    survey = Survey.objects.create(
        organisation=organisation, touchpoint=touchpoint, name=name or touchpoint.label("en")
    )
    questions = list(STANDARD_QUESTIONS)
    if ask_effort:
        questions.insert(2, EFFORT_QUESTION)
    if ask_callback:
        questions += CALLBACK_QUESTIONS
    Question.objects.bulk_create(
        Question(survey=survey, position=position, **spec)  # type: ignore[arg-type]
        for position, spec in enumerate(questions, start=1)
    )
    return survey


# Roles allowed to change what a survey says; managers read the texts and their cost.
SURVEY_EDITORS = ("admin", "analyst")

# A prompt is read on a phone: past about two GSM-7 segments it is a letter, not a question.
PROMPT_MAX_LENGTH = 320
# A choice label is repeated in the SMS ("Oui / En partie / Non") and shown as a button.
CHOICE_LABEL_MAX_LENGTH = 40
# The one placeholder the renderers fill in; anything else between braces would reach customers as is.
COMPANY_PLACEHOLDER = "{company}"


@dataclass(frozen=True)
class QuestionTexts:
    """New wording for one question; a language or a choice left out keeps its current text."""

    prompt: Mapping[str, str] = field(default_factory=dict)  # language → prompt
    choice_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # value → language → label


class SurveyTextsInvalid(ValidationFailed):
    """Some texts can't be saved; ``problems`` maps each field (``nps.prompt.fr``…) to what to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        field_name, message = next(iter(problems.items()))
        super().__init__(message, field=field_name)
        self.problems = problems


def prompt_field(code: str, language: str) -> str:
    return f"{code}.prompt.{language}"


def choice_field(code: str, value: str, language: str) -> str:
    return f"{code}.choices.{value}.{language}"


def asks_callback(questions: Sequence[Question]) -> bool:
    return any(question.code == CALLBACK_QUESTIONS[0]["code"] for question in questions)


def _text_problem(text: str, *, required: bool, limit: int) -> str | None:
    if not text.strip():
        return _("Please write this text: customers in this language read it.") if required else None
    if len(text) > limit:
        return _("At most %(limit)s characters (now %(length)s).") % {"limit": limit, "length": len(text)}
    if "{" in text.replace(COMPANY_PLACEHOLDER, "") or "}" in text.replace(COMPANY_PLACEHOLDER, ""):
        return _("Only {company} may be written between braces; it becomes the organisation's name.")
    return None


def _check_texts(
    questions: Mapping[str, Question], texts: Mapping[str, QuestionTexts], *, required_language: str
) -> dict[str, str]:
    languages = {code for code, _name in settings.LANGUAGES}
    problems: dict[str, str] = {}
    for code, wanted in texts.items():
        question = questions.get(code)
        if question is None:
            problems[code] = _("This survey has no question %(code)s.") % {"code": code}
            continue
        values = {choice["value"] for choice in question.choices}
        entries = [
            (prompt_field(code, lang), lang, text, PROMPT_MAX_LENGTH) for lang, text in wanted.prompt.items()
        ]
        for value, labels in wanted.choice_labels.items():
            if value not in values:
                problems[choice_field(code, value, required_language)] = _(
                    "This question has no such choice."
                )
                continue
            entries += [
                (choice_field(code, value, lang), lang, label, CHOICE_LABEL_MAX_LENGTH)
                for lang, label in labels.items()
            ]
        for name, language, text, limit in entries:
            if language not in languages:
                problems[name] = _("Unknown language %(language)s.") % {"language": language}
            elif problem := _text_problem(text, required=language == required_language, limit=limit):
                problems[name] = problem
    return problems


def _set_callback_questions(survey: Survey, questions: list[Question], *, ask: bool, now: datetime) -> None:
    """Append the call-back questions, or take them away while nobody can be in the middle of them."""
    if ask == asks_callback(questions):
        return
    if ask:
        last = max((question.position for question in questions), default=0)
        Question.objects.bulk_create(
            Question(survey=survey, position=position, **spec)  # type: ignore[arg-type]
            for position, spec in enumerate(CALLBACK_QUESTIONS, start=last + 1)
        )
        return
    codes = [str(spec["code"]) for spec in CALLBACK_QUESTIONS]
    answered = Answer.objects.filter(question__survey=survey, question__code__in=codes).exists()
    # An SMS conversation walks the questions by position: removing some under an open
    # invitation would leave its next reply pointing past the end of the survey.
    awaited = Invitation.objects.filter(
        survey=survey, status__in=(InvitationStatus.SCHEDULED, InvitationStatus.SENT), expires_at__gt=now
    ).exists()
    if answered or awaited:
        raise SurveyTextsInvalid(
            {
                "ask_callback": _(
                    "The call-back questions stay: customers have already answered them, or invitations "
                    "to this survey still await answers."
                )
            }
        )
    Question.objects.filter(survey=survey, code__in=codes).delete()


def _reworded(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    return {**current, **{language: text.strip() for language, text in wanted.items()}}


def reworded_question(question: Question, texts: QuestionTexts) -> Question:
    """The question with new wording, not saved: the editor previews it, ``update_survey_texts`` stores it."""
    return Question(
        id=question.id,
        survey_id=question.survey_id,
        position=question.position,
        code=question.code,
        kind=question.kind,
        attribution=question.attribution,
        prompt=_reworded(question.prompt, texts.prompt),
        choices=[
            {**choice, "label": _reworded(choice["label"], texts.choice_labels.get(choice["value"], {}))}
            for choice in question.choices
        ],
        required=question.required,
        allows_not_applicable=question.allows_not_applicable,
        not_applicable_label=question.not_applicable_label,
    )


@transaction.atomic
def update_survey_texts(
    *,
    organisation: Organisation,
    survey_id: int,
    texts: Mapping[str, QuestionTexts],
    ask_callback: bool | None = None,
    now: datetime | None = None,
) -> Survey:
    """Reword a survey's questions and choices; the next texts sent read the new wording.

    Everything is checked before anything is written: a refused edit changes nothing.
    """
    survey = Survey.objects.select_for_update().filter(organisation=organisation, id=survey_id).first()
    if survey is None:
        raise NotFound(_("No such survey."))
    questions = {question.code: question for question in survey.questions.all()}
    problems = _check_texts(questions, texts, required_language=organisation.default_locale)
    if problems:
        raise SurveyTextsInvalid(problems)
    reworded = [reworded_question(questions[code], wanted) for code, wanted in texts.items()]
    Question.objects.bulk_update(reworded, ["prompt", "choices"])
    if ask_callback is not None:
        _set_callback_questions(survey, list(questions.values()), ask=ask_callback, now=now or timezone.now())
    return survey


def new_token() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def create_invitations(*, organisation: Organisation, decisions: Sequence[Decision]) -> list[Invitation]:
    """One invitation per decision to invite or defer, on the channel governance chose."""
    wanted = [d for d in decisions if d.outcome != Outcome.SKIP]
    if not wanted:
        return []
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
            channel=decision.channel,
            locale=decision.customer.locale,
            token=new_token(),
            planned_at=decision.planned_at,
            expires_at=decision.planned_at + ttl,  # type: ignore[operator]
        )
        for decision in wanted
    ]
    with transaction.atomic():
        insert_rows(invitations)
    return invitations


def mark_invitation_sent(*, invitation_id: int, at: datetime) -> None:
    mark_invitations_sent(invitation_ids=[invitation_id], at=at)


@transaction.atomic
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
    *, token: str, answers: Mapping[str, str | None], now: datetime | None = None
) -> Response:
    """Store the answers to one invitation, once; announce the completed response."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locking the invitation makes a double submit (two taps, two tabs)
        # wait, then find it answered: one response per invitation.
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("interaction", "survey")
            .filter(token=token)
            .first()
        )
        if invitation is None:
            raise InvitationUnavailable("unknown")
        if invitation.status == InvitationStatus.RESPONDED:
            raise InvitationUnavailable("used")
        if invitation.status == InvitationStatus.CANCELLED:
            raise InvitationUnavailable("cancelled")
        if invitation.expires_at <= now:
            raise InvitationUnavailable("expired")
        values, problems = [], {}
        for question in invitation.survey.questions.all():
            try:
                values.append((question, _read_answer(question, answers.get(question.code))))
            except ValidationFailed as exc:
                problems[question.code] = exc.message
        if problems:
            raise AnswersInvalid(problems)
        interaction = invitation.interaction
        response = Response.objects.create(
            organisation_id=invitation.organisation_id,
            invitation=invitation,
            survey=invitation.survey,
            customer_id=invitation.customer_id,
            interaction=interaction,
            touchpoint_id=invitation.touchpoint_id,
            agent_id=interaction.agent_id,
            team_id=interaction.team_id,
            channel=invitation.channel,
            locale=invitation.locale,
            completed_at=now,
        )
        Answer.objects.bulk_create(
            Answer(
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
            if value is not None
        )
        invitation.status = InvitationStatus.RESPONDED
        invitation.responded_at = now
        invitation.reminder_due_at = None  # answered: no reminder
        invitation.save(update_fields=["status", "responded_at", "reminder_due_at"])
        response_completed.send(sender=Response, response=response)
    return response


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
