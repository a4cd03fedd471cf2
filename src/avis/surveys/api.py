"""Surveys over the API: read what each question says and what its SMS costs; reword it."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.errors import NotFound, PermissionDenied
from avis.messaging.billing import price_per_segment
from avis.messaging.queries import survey_sms_preview
from avis.surveys.models import Question, Survey
from avis.surveys.queries import organisation_surveys, survey_for_editing
from avis.surveys.services import SURVEY_EDITORS, QuestionTexts, asks_callback, update_survey_texts

router = Router(tags=["surveys"])


class SmsOut(Schema):
    text: str = Field(description="The SMS exactly as the customer's phone receives it")
    encoding: str
    characters: int
    segments: int
    cost: Decimal = Field(description="Cost per message at AVIS_SMS_PRICE_PER_SEGMENT")
    ucs2_characters: list[str] = Field(description="The characters that force UCS-2")
    gsm7_alternative: str | None = Field(description="The same SMS in GSM-7, when that is possible")


class ChoiceOut(Schema):
    value: str
    label: dict[str, str]


class QuestionOut(Schema):
    code: str
    position: int
    kind: str
    attribution: str
    prompt: dict[str, str]
    choices: list[ChoiceOut]
    sms: dict[str, SmsOut] = Field(description="Per language: the SMS this question sends")


class SurveyOut(Schema):
    id: int
    name: str
    touchpoint: str
    is_active: bool
    ask_callback: bool
    questions: list[QuestionOut] | None = None


class QuestionTextsIn(Schema):
    prompt: dict[str, str] = Field(default_factory=dict, examples=[{"fr": "Recommanderiez-vous {company} ?"}])
    choices: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Choice value → language → label", examples=[{"yes": {"fr": "Oui"}}]
    )


class SurveyPatch(Schema):
    """Only what is given changes; errors name their field as ``<code>.prompt.<language>``."""

    questions: dict[str, QuestionTextsIn] = Field(default_factory=dict, description="Question code → texts")
    ask_callback: bool | None = None


def _sms(question: Question, *, opens_survey: bool, language: str, company: str, price: Decimal) -> SmsOut:
    measured = survey_sms_preview(
        question, opens_survey=opens_survey, language=language, company=company, price_per_segment=price
    )
    length = measured["length"]
    return SmsOut(
        text=str(measured["text"]),
        encoding=length.encoding,  # type: ignore[attr-defined]
        characters=int(measured["characters"]),  # type: ignore[call-overload]
        segments=length.segments,  # type: ignore[attr-defined]
        cost=measured["cost"],  # type: ignore[arg-type]
        ucs2_characters=list(length.ucs2_characters),  # type: ignore[attr-defined]
        gsm7_alternative=length.gsm7_alternative if length.encoding == "UCS-2" else None,  # type: ignore[attr-defined]
    )


def _survey_out(survey: Survey, *, with_questions: bool) -> SurveyOut:
    questions = list(survey.questions.all())
    out = SurveyOut(
        id=survey.id,
        name=survey.name,
        touchpoint=survey.touchpoint.code,
        is_active=survey.is_active,
        ask_callback=asks_callback(questions),
    )
    if with_questions:
        price, company = price_per_segment(), survey.organisation.name
        first = min((q.position for q in questions), default=0)
        out.questions = [
            QuestionOut(
                code=q.code,
                position=q.position,
                kind=q.kind,
                attribution=q.attribution,
                prompt=q.prompt,
                choices=[ChoiceOut(value=c["value"], label=c["label"]) for c in q.choices],
                sms={
                    language: _sms(
                        q, opens_survey=q.position == first, language=language, company=company, price=price
                    )
                    for language, _name in settings.LANGUAGES
                },
            )
            for q in questions
        ]
    return out


def _found(request: HttpRequest, survey_id: int) -> Survey:
    survey = survey_for_editing(organisation=organisation_of(request), survey_id=survey_id)
    if survey is None:
        raise NotFound("No such survey.")
    return survey


@router.get("", response=list[SurveyOut])
def list_surveys(request: HttpRequest) -> list[SurveyOut]:
    surveys = organisation_surveys(organisation=organisation_of(request))
    return [_survey_out(survey, with_questions=False) for survey in surveys]


@router.get("/{survey_id}", response=SurveyOut)
def get_survey(request: HttpRequest, survey_id: int) -> SurveyOut:
    return _survey_out(_found(request, survey_id), with_questions=True)


@router.patch("/{survey_id}", response=SurveyOut)
def patch_survey(request: HttpRequest, survey_id: int, payload: SurveyPatch) -> SurveyOut:
    """Reword questions and choices; the next messages sent use the new wording."""
    membership = getattr(request, "membership", None)
    if membership is not None and request.user.is_authenticated and membership.role not in SURVEY_EDITORS:
        raise PermissionDenied("Only an admin or an analyst may change what a survey says.")
    update_survey_texts(
        organisation=organisation_of(request),
        survey_id=survey_id,
        texts={
            code: QuestionTexts(prompt=given.prompt, choice_labels=given.choices)
            for code, given in payload.questions.items()
        },
        ask_callback=payload.ask_callback,
    )
    return _survey_out(_found(request, survey_id), with_questions=True)
