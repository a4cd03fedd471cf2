"""Surveys over the API: design a touchpoint's survey, preview what each SMS costs, publish versions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.errors import NotFound
from avis.interactions.queries import touchpoint_by_code
from avis.messaging.billing import price_per_segment
from avis.messaging.queries import sms_survey_cost, survey_sms_preview
from avis.surveys.design import (
    CALLBACK_CODES,
    LIBRARY,
    DraftChanges,
    QuestionTexts,
    asks_callback,
    change_draft,
    create_survey,
    publish_survey,
)
from avis.surveys.models import Question, Survey, SurveyVersion
from avis.surveys.queries import (
    draft_of,
    organisation_surveys,
    survey_for_editing,
    survey_versions,
    version_being_designed,
)

router = Router(tags=["surveys"])

LibraryKind = Literal["nps", "csat", "ces", "resolution", "advisor", "choice", "text", "callback"]
assert set(LibraryKind.__args__) == set(LIBRARY)  # type: ignore[attr-defined]  # one list of kinds


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


class ConditionSchema(Schema):
    """Ask the question only if an earlier answer is at most a score, or one of some choices."""

    question: str = Field(description="Code of an earlier question")
    at_most: int | None = Field(None, description="For a score (NPS, CSAT, CES): ask if the answer ≤ this")
    among: list[str] | None = Field(None, description="For a choice: ask if the answer is one of these")


class QuestionOut(Schema):
    code: str
    position: int
    kind: str
    attribution: str
    required: bool
    allows_not_applicable: bool
    prompt: dict[str, str]
    choices: list[ChoiceOut]
    condition: ConditionSchema | None
    sms: dict[str, SmsOut] | None = Field(None, description="Per language: the SMS this question sends")


class SmsPathOut(Schema):
    questions: int
    messages: int
    segments: int
    cost: Decimal


class SmsCostOut(Schema):
    """What one completed SMS survey costs, without and with every follow-up question."""

    shortest: SmsPathOut
    longest: SmsPathOut
    too_long: bool = Field(description="More than 3 questions, or a text above 2 segments")
    long_prompts: list[str] = Field(description="Questions whose SMS takes more than 2 segments")


class SurveyOut(Schema):
    id: int
    name: str
    touchpoint: str
    is_active: bool
    published_version: int | None = Field(description="The version new invitations are sent with")
    has_draft: bool = Field(description="Changes saved but not published yet")
    ask_callback: bool
    questions: list[QuestionOut] | None = Field(
        None, description="The design: the draft's questions if there is one, else the published version's"
    )
    sms_cost: dict[str, SmsCostOut] | None = Field(None, description="Per language")


class VersionOut(Schema):
    id: int = Field(description="Filters the figures: GET /api/v1/metrics?version=<id>")
    number: int
    published_at: datetime
    published_by: str | None
    responses: int
    questions: list[QuestionOut]


class SurveyIn(Schema):
    touchpoint: str = Field(description="Code of a touchpoint without a survey")
    name: str = ""
    questions: list[LibraryKind] = Field(
        default_factory=lambda: ["nps", "resolution", "advisor", "text"],
        description="Kinds from the library, in order",
    )


class QuestionPatch(Schema):
    prompt: dict[str, str] = Field(default_factory=dict, examples=[{"fr": "Recommanderiez-vous {company} ?"}])
    choices: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Choice value → language → label", examples=[{"yes": {"fr": "Oui"}}]
    )
    condition: ConditionSchema | None = Field(None, description="Replaces the condition")
    always: bool = Field(False, description="True: remove the condition, ask it to everyone")
    required: bool | None = None


class SurveyPatch(Schema):
    """Changes the draft (started from the published version); ``publish`` then sends it.

    Only what is given changes; the whole patch is refused (422, every problem by field, e.g.
    ``nps.prompt.fr``) when one part is wrong. Applied in this order: add, questions, remove, order.
    """

    name: str | None = None
    questions: dict[str, QuestionPatch] = Field(default_factory=dict, description="Question code → changes")
    remove: list[str] = Field(default_factory=list, description="Codes of questions to remove")
    add: list[LibraryKind] = Field(default_factory=list, description="Kinds from the library, appended")
    order: list[str] | None = Field(None, description="Every question code, in the new order")
    ask_callback: bool | None = Field(None, description="Add or remove the call-back questions")


def _condition_out(question: Question) -> ConditionSchema | None:
    return ConditionSchema(**question.condition) if question.condition else None


def _sms(
    question: Question, *, opens_survey: bool, language: str, company: str, touchpoint: str, price: Decimal
) -> SmsOut:
    measured = survey_sms_preview(
        question,
        opens_survey=opens_survey,
        language=language,
        company=company,
        touchpoint=touchpoint,
        price_per_segment=price,
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


def _questions_out(survey: Survey, questions: list[Question], *, with_sms: bool) -> list[QuestionOut]:
    price, company = price_per_segment(), survey.organisation.name
    return [
        QuestionOut(
            code=q.code,
            position=q.position,
            kind=q.kind,
            attribution=q.attribution,
            required=q.required,
            allows_not_applicable=q.allows_not_applicable,
            prompt=q.prompt,
            choices=[ChoiceOut(value=c["value"], label=c["label"]) for c in q.choices],
            condition=_condition_out(q),
            sms={
                language: _sms(
                    q,
                    opens_survey=index == 0,
                    language=language,
                    company=company,
                    touchpoint=survey.touchpoint.label(language),
                    price=price,
                )
                for language, _name in settings.LANGUAGES
            }
            if with_sms
            else None,
        )
        for index, q in enumerate(questions)
    ]


def _survey_out(survey: Survey, *, detailed: bool) -> SurveyOut:
    current = survey.current_version
    if detailed:
        version = version_being_designed(survey)
        has_draft = version is not None and version.is_draft
    else:
        version, has_draft = current, getattr(survey, "draft", None) is not None
    questions = list(version.questions.all()) if version is not None else []
    out = SurveyOut(
        id=survey.id,
        name=survey.name,
        touchpoint=survey.touchpoint.code,
        is_active=survey.is_active,
        published_version=current.number if current else None,
        has_draft=has_draft,
        ask_callback=asks_callback(questions),
    )
    if detailed:
        price = price_per_segment()
        out.questions = _questions_out(survey, questions, with_sms=True)
        out.sms_cost = {
            language: SmsCostOut(
                **sms_survey_cost(
                    questions,
                    language=language,
                    company=survey.organisation.name,
                    touchpoint=survey.touchpoint.label(language),
                    price_per_segment=price,
                )
            )
            for language, _name in settings.LANGUAGES
        }
    return out


def _found(request: HttpRequest, survey_id: int) -> Survey:
    """One of the caller's organisation's surveys (who may read them: accounts/permissions.py)."""
    survey = survey_for_editing(organisation=organisation_of(request), survey_id=survey_id)
    if survey is None:
        raise NotFound("No such survey.")
    return survey


@router.get("", response=list[SurveyOut])
def list_surveys(request: HttpRequest) -> list[SurveyOut]:
    surveys = organisation_surveys(organisation=organisation_of(request))
    return [_survey_out(survey, detailed=False) for survey in surveys]


@router.post("", response={201: SurveyOut})
def post_survey(request: HttpRequest, payload: SurveyIn) -> tuple[int, SurveyOut]:
    """Start a touchpoint's survey from the library; it is a draft until published."""
    organisation = organisation_of(request)
    touchpoint = touchpoint_by_code(organisation=organisation, code=payload.touchpoint)
    survey = create_survey(
        organisation=organisation, touchpoint=touchpoint, name=payload.name, kinds=payload.questions
    )
    return 201, _survey_out(_found(request, survey.id), detailed=True)


@router.get("/{survey_id}", response=SurveyOut)
def get_survey(request: HttpRequest, survey_id: int) -> SurveyOut:
    return _survey_out(_found(request, survey_id), detailed=True)


def _changes(survey: Survey, payload: SurveyPatch) -> DraftChanges:
    conditions: dict[str, dict[str, object]] = {}
    for code, given in payload.questions.items():
        if given.always:
            conditions[code] = {}
        elif given.condition is not None:
            conditions[code] = given.condition.model_dump(exclude_none=True)
    add, remove = list(payload.add), list(payload.remove)
    if payload.ask_callback is not None:
        version = draft_of(survey) or survey.current_version
        has = asks_callback(list(version.questions.all())) if version else False
        if payload.ask_callback and not has:
            add.append("callback")
        elif not payload.ask_callback and has:
            remove += [code for code in CALLBACK_CODES if code not in remove]
    return DraftChanges(
        texts={
            code: QuestionTexts(prompt=given.prompt, choice_labels=given.choices)
            for code, given in payload.questions.items()
            if given.prompt or given.choices
        },
        conditions=conditions,
        required={
            code: given.required for code, given in payload.questions.items() if given.required is not None
        },
        remove=remove,
        add=add,
        order=payload.order,
        name=payload.name,
    )


@router.patch("/{survey_id}", response=SurveyOut)
def patch_survey(request: HttpRequest, survey_id: int, payload: SurveyPatch) -> SurveyOut:
    """Change the draft: wording, conditions, questions added, removed or reordered."""
    survey = _found(request, survey_id)
    change_draft(
        organisation=organisation_of(request), survey_id=survey.id, changes=_changes(survey, payload)
    )
    return _survey_out(_found(request, survey_id), detailed=True)


def _version_out(survey: Survey, version: SurveyVersion) -> VersionOut:
    by = version.published_by
    return VersionOut(
        id=version.id,
        number=version.number,  # type: ignore[arg-type]
        published_at=version.published_at,  # type: ignore[arg-type]
        published_by=by.get_username() if by else None,
        responses=getattr(version, "responses", 0),
        questions=_questions_out(survey, list(version.questions.all()), with_sms=False),
    )


@router.post("/{survey_id}/publish", response={201: VersionOut})
def publish(request: HttpRequest, survey_id: int) -> tuple[int, VersionOut]:
    """The draft becomes the next version; new invitations are sent with it, earlier ones keep theirs."""
    survey = _found(request, survey_id)
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    version = publish_survey(organisation=organisation_of(request), survey_id=survey.id, by=user)
    return 201, _version_out(survey, version)


@router.get("/{survey_id}/versions", response=list[VersionOut])
def versions(request: HttpRequest, survey_id: int) -> list[VersionOut]:
    """Every published version, newest first, with its questions and how many responses it has."""
    survey = _found(request, survey_id)
    return [
        _version_out(survey, version)
        for version in survey_versions(organisation=organisation_of(request), survey=survey)
    ]
