"""The survey designer: each survey has one draft, changed question by question, and published
as immutable versions.

Every change (wording, conditions, questions added from the library, removed, moved, choices
added or removed) goes through ``change_draft``: applied to a copy of the draft, checked as a
whole, then written at once or refused with every problem by field. The designer's live preview
reads the same copy (``designed_questions``) without writing anything.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from avis.accounts.models import Organisation
from avis.audit.services import record
from avis.errors import NotFound, ValidationFailed
from avis.interactions.models import Touchpoint
from avis.surveys.models import SCALES, Attribution, Question, QuestionKind, Survey, SurveyVersion
from avis.surveys.services import CALLBACK_QUESTIONS, EFFORT_QUESTION, STANDARD_QUESTIONS
from avis.surveys.wording import unknown_placeholders

# Roles allowed to change what a survey says and to publish it; others read it and its cost.
SURVEY_EDITORS = ("admin", "analyst")
# Who may open the designer and read surveys: editors, and managers (the texts and their cost).
SURVEY_READERS = (*SURVEY_EDITORS, "manager")

# A prompt is read on a phone: past about two GSM-7 segments it is a letter, not a question.
PROMPT_MAX_LENGTH = 320
# A choice label is repeated in the SMS ("Oui / En partie / Non") and shown as a button.
CHOICE_LABEL_MAX_LENGTH = 40
MAX_CHOICES = 8
MAX_QUESTIONS = 20


@dataclass(frozen=True)
class LibraryItem:
    """A kind of question the designer offers; some bring follow-ups with them (call-back)."""

    label: Promise
    questions: list[dict[str, object]]


def _standard(code: str) -> dict[str, object]:
    return next(spec for spec in STANDARD_QUESTIONS if spec["code"] == code)


CALLBACK_CODES = tuple(str(spec["code"]) for spec in CALLBACK_QUESTIONS)
_ASKED_IF_CALLBACK = {"question": "callback", "among": ["yes"]}

LIBRARY: dict[str, LibraryItem] = {
    "nps": LibraryItem(gettext_lazy("Likelihood to recommend (NPS, 0–10)"), [_standard("nps")]),
    "csat": LibraryItem(
        gettext_lazy("Satisfaction (CSAT, 1–5)"),
        [
            {
                "code": "csat",
                "kind": QuestionKind.CSAT,
                "attribution": Attribution.OVERALL,
                "prompt": {
                    "fr": "Êtes-vous satisfait de votre {touchpoint} ? (1 = pas du tout, 5 = tout à fait)",
                    "en": "How satisfied are you with your {touchpoint}? (1 = not at all, 5 = very)",
                },
            }
        ],
    ),
    "ces": LibraryItem(gettext_lazy("Customer effort (CES, 1–7)"), [EFFORT_QUESTION]),
    "resolution": LibraryItem(gettext_lazy("Resolution (yes / partly / no)"), [_standard("resolved")]),
    "advisor": LibraryItem(
        gettext_lazy("The advisor's part, with “not applicable / not their doing”"), [_standard("agent")]
    ),
    "choice": LibraryItem(
        gettext_lazy("Single choice"),
        [
            {
                "code": "choice",
                "kind": QuestionKind.CHOICE,
                "attribution": Attribution.OVERALL,
                "prompt": {"fr": "Votre question ?", "en": "Your question?"},
                "choices": [
                    {"value": "a", "label": {"fr": "Réponse A", "en": "Answer A"}},
                    {"value": "b", "label": {"fr": "Réponse B", "en": "Answer B"}},
                ],
            }
        ],
    ),
    "text": LibraryItem(gettext_lazy("Free text"), [_standard("comment")]),
    "callback": LibraryItem(
        gettext_lazy("Call-back consent (how and when, if yes)"),
        [
            CALLBACK_QUESTIONS[0],
            *({**spec, "condition": _ASKED_IF_CALLBACK} for spec in CALLBACK_QUESTIONS[1:]),
        ],
    ),
}


@dataclass(frozen=True)
class QuestionTexts:
    """New wording for one question; a language or a choice left out keeps its current text."""

    prompt: Mapping[str, str] = field(default_factory=dict)  # language → prompt
    choice_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # value → language → label


@dataclass(frozen=True)
class DraftChanges:
    """One edit of a draft; whatever is left out stays as it is. Applied in the order of the fields."""

    texts: Mapping[str, QuestionTexts] = field(default_factory=dict)  # question code → wording
    conditions: Mapping[str, Mapping[str, object]] = field(
        default_factory=dict
    )  # code → condition, {} always
    required: Mapping[str, bool] = field(default_factory=dict)
    remove: Sequence[str] = ()  # question codes
    add: Sequence[str] = ()  # library kinds, appended in this order
    order: Sequence[str] | None = None  # every remaining code, in the new order
    move: tuple[str, int] | None = None  # (code, -1 up / +1 down)
    add_choice: Sequence[str] = ()  # codes of single-choice questions
    remove_choice: Sequence[tuple[str, str]] = ()  # (code, value)
    name: str | None = None


class SurveyDesignInvalid(ValidationFailed):
    """Some of a design can't be saved; ``problems`` maps each field (``nps.prompt.fr``…) to what to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        field_name, message = next(iter(problems.items()))
        super().__init__(message, field=field_name)
        self.problems = problems


def prompt_field(code: str, language: str) -> str:
    return f"{code}.prompt.{language}"


def choice_field(code: str, value: str, language: str) -> str:
    return f"{code}.choices.{value}.{language}"


def condition_field(code: str) -> str:
    return f"{code}.condition"


def asks_callback(questions: Sequence[Question]) -> bool:
    return any(question.code == CALLBACK_CODES[0] for question in questions)


def choices_editable(question: Question) -> bool:
    """Resolution and call-back answers are read by figures and cases by value: those keep theirs."""
    return (
        question.kind == QuestionKind.CHOICE
        and question.attribution != Attribution.RESOLUTION
        and question.code not in CALLBACK_CODES
    )


def _reworded(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    return {**current, **{language: text.strip() for language, text in wanted.items()}}


# What makes a question what it is; its position aside, the same in a copy and its original.
QUESTION_FIELDS = (
    "code",
    "kind",
    "attribution",
    "prompt",
    "choices",
    "required",
    "allows_not_applicable",
    "not_applicable_label",
    "condition",
)


def _copy(question: Question, **changes: object) -> Question:
    """An unsaved copy of the question (the draft is rewritten whole when saved)."""
    values = {name: copy.deepcopy(getattr(question, name)) for name in ("position", *QUESTION_FIELDS)}
    return Question(version_id=question.version_id, **(values | changes))


def reworded_question(question: Question, texts: QuestionTexts) -> Question:
    """The question with new wording, not saved: the designer previews it, ``change_draft`` stores it."""
    return _copy(
        question,
        prompt=_reworded(question.prompt, texts.prompt),
        choices=[
            {**choice, "label": _reworded(choice["label"], texts.choice_labels.get(choice["value"], {}))}
            for choice in question.choices
        ],
    )


def _free_code(wanted: str, taken: set[str]) -> str:
    code, n = wanted, 1
    while code in taken:
        n += 1
        code = f"{wanted}_{n}"
    return code


def _from_library(kind: str, taken: set[str]) -> list[Question]:
    """The library item's questions, with codes free in this survey (follow-ups renamed alike)."""
    renamed: dict[str, str] = {}
    added = []
    for spec in LIBRARY[kind].questions:
        values = copy.deepcopy(dict(spec))
        code = _free_code(str(values.pop("code")), taken)
        renamed[str(spec["code"])] = code
        taken.add(code)
        condition = values.pop("condition", {}) or {}
        if condition:
            condition = {**condition, "question": renamed.get(condition["question"], condition["question"])}
        added.append(Question(code=code, condition=condition, **values))  # type: ignore[arg-type]
    return added


def _with_choice_added(question: Question) -> Question:
    values = {choice["value"] for choice in question.choices}
    n = len(question.choices) + 1
    value = _free_code(f"c{n}", values)
    label = {"fr": f"Réponse {n}", "en": f"Answer {n}"}
    return _copy(question, choices=[*question.choices, {"value": value, "label": label}])


def designed_questions(
    questions: Sequence[Question], changes: DraftChanges
) -> tuple[list[Question], dict[str, str]]:
    """The draft's questions once ``changes`` are applied (unsaved), and the problems found on the way
    (an unknown question or choice). Positions run 1, 2, 3… in the new order."""
    problems: dict[str, str] = {}
    in_order = [_copy(question) for question in sorted(questions, key=lambda q: q.position)]
    for kind in changes.add:
        if kind not in LIBRARY:
            problems["add"] = _("Unknown kind of question %(kind)s.") % {"kind": kind}
            continue
        in_order += _from_library(kind, {q.code for q in in_order})
    by_code = {question.code: question for question in in_order}
    unknown = _("This survey has no question %(code)s.")
    # What a form sends for a question it removes in the same change is moot, not wrong.
    for code, texts in changes.texts.items():
        if code in changes.remove:
            continue
        if code not in by_code:
            problems[code] = unknown % {"code": code}
            continue
        values = {choice["value"] for choice in by_code[code].choices}
        for value in texts.choice_labels:
            if value not in values:
                problems[f"{code}.choices.{value}"] = _("This question has no such choice.")
        by_code[code] = reworded_question(by_code[code], texts)
    for code, condition in changes.conditions.items():
        if code in changes.remove:
            continue
        if code not in by_code:
            problems[code] = unknown % {"code": code}
        else:
            by_code[code].condition = dict(condition)
    for code, required in changes.required.items():
        if code in by_code:
            by_code[code].required = required
    for code in changes.remove:
        if by_code.pop(code, None) is None:
            problems[code] = unknown % {"code": code}
    in_order = [by_code[q.code] for q in in_order if q.code in by_code]
    if changes.order is not None:
        if sorted(changes.order) != sorted(q.code for q in in_order):
            problems["order"] = _("List every question of the survey once, in the order wanted.")
        else:
            rank = {code: index for index, code in enumerate(changes.order)}
            in_order.sort(key=lambda q: rank[q.code])
    if changes.move is not None:
        code, offset = changes.move
        index = next((i for i, q in enumerate(in_order) if q.code == code), None)
        if index is not None and 0 <= index + offset < len(in_order):
            in_order[index], in_order[index + offset] = in_order[index + offset], in_order[index]
    for code in changes.add_choice:
        index = next((i for i, q in enumerate(in_order) if q.code == code), None)
        if index is not None and choices_editable(in_order[index]):
            in_order[index] = _with_choice_added(in_order[index])
    for code, value in changes.remove_choice:
        index = next((i for i, q in enumerate(in_order) if q.code == code), None)
        if index is not None and choices_editable(in_order[index]):
            question = in_order[index]
            question.choices = [choice for choice in question.choices if choice["value"] != value]
    for position, question in enumerate(in_order, start=1):
        question.position = position
    return in_order, problems


def _text_problem(text: str, *, required: bool, limit: int) -> str | None:
    if not text.strip():
        return _("Please write this text: customers in this language read it.") if required else None
    if len(text) > limit:
        return _("At most %(limit)s characters (now %(length)s).") % {"limit": limit, "length": len(text)}
    if unknown_placeholders(text):
        return _(
            "Only {company} (the organisation's name) and {touchpoint} (the touchpoint's name) may be "
            "written between braces; %(found)s would reach customers as is."
        ) % {"found": ", ".join(unknown_placeholders(text))}
    return None


def _texts_problems(question: Question, *, required_language: str) -> dict[str, str]:
    languages = {code for code, _name in settings.LANGUAGES}
    entries = [
        (prompt_field(question.code, language), language, text, PROMPT_MAX_LENGTH)
        for language, text in question.prompt.items()
    ]
    entries += [
        (choice_field(question.code, choice["value"], language), language, label, CHOICE_LABEL_MAX_LENGTH)
        for choice in question.choices
        for language, label in choice["label"].items()
    ]
    problems = {}
    for name, language, text, limit in entries:
        if language not in languages:
            problems[name] = _("Unknown language %(language)s.") % {"language": language}
        elif problem := _text_problem(text, required=language == required_language, limit=limit):
            problems[name] = problem
    # The default language is never left out, even when a text was not sent at all.
    if required_language not in question.prompt:
        problems[prompt_field(question.code, required_language)] = _(
            "Please write this text: customers in this language read it."
        )
    for choice in question.choices:
        if required_language not in choice["label"]:
            problems[choice_field(question.code, choice["value"], required_language)] = _(
                "Please write this text: customers in this language read it."
            )
    return problems


def _condition_problem(condition: Mapping[str, object], earlier: Mapping[str, Question]) -> str | None:
    if not condition:
        return None
    if not earlier:
        return _("The first question is asked to everyone: it opens the SMS and the email.")
    source = earlier.get(str(condition.get("question", "")))
    if source is None:
        return _("A condition reads the answer to an earlier question of this survey.")
    if "at_most" in condition and "among" not in condition:
        low, high = SCALES.get(source.kind, (None, None))
        limit = condition["at_most"]
        if low is None:
            return _("“At most” applies to a score (NPS, CSAT, CES), not to %(code)s.") % {
                "code": source.code
            }
        if not isinstance(limit, int) or isinstance(limit, bool) or not low <= limit < high:  # type: ignore[operator]
            return _("Please choose a score from %(low)s to %(high)s.") % {"low": low, "high": high - 1}  # type: ignore[operator]
        return None
    if "among" in condition and "at_most" not in condition:
        among = condition["among"]
        values = {choice["value"] for choice in source.choices}
        if source.kind != QuestionKind.CHOICE:
            return _("“Is one of” applies to a question with choices, not to %(code)s.") % {
                "code": source.code
            }
        if not isinstance(among, list) or not among or not set(among) <= values:
            return _("Please choose among the answers of %(code)s: %(values)s.") % {
                "code": source.code,
                "values": ", ".join(sorted(values)),
            }
        return None
    return _("A condition is either “at most” a score or “is one of” some answers.")


def design_problems(
    questions: Sequence[Question], *, required_language: str, publishing: bool = False
) -> dict[str, str]:
    """Everything wrong with a survey's questions, by field; empty when it may be saved (or published)."""
    problems: dict[str, str] = {}
    earlier: dict[str, Question] = {}
    for question in questions:
        problems |= _texts_problems(question, required_language=required_language)
        if problem := _condition_problem(question.condition, earlier):
            problems[condition_field(question.code)] = problem
        if question.kind == QuestionKind.CHOICE and not 2 <= len(question.choices) <= MAX_CHOICES:
            problems[f"{question.code}.choices"] = _("A question with choices offers from 2 to %(max)s.") % {
                "max": MAX_CHOICES
            }
        earlier[question.code] = question
    if len(questions) > MAX_QUESTIONS:
        problems["questions"] = _("At most %(max)s questions.") % {"max": MAX_QUESTIONS}
    if publishing and not questions:
        problems["questions"] = _("A survey asks at least one question.")
    return problems


# --- Writing ---------------------------------------------------------------------------------------


def _locked_survey(organisation: Organisation, survey_id: int) -> Survey:
    # Locked so two editors saving at once apply one change after the other, never half of each.
    survey = (
        Survey.objects.select_for_update(of=("self",))
        .select_related("organisation", "current_version")
        .filter(organisation=organisation, id=survey_id)
        .first()
    )
    if survey is None:
        raise NotFound(_("No such survey."))
    return survey


def _draft(survey: Survey) -> SurveyVersion:
    """The survey's draft, started empty when there is none (``_rewrite`` fills it)."""
    draft = SurveyVersion.objects.filter(survey=survey, number__isnull=True).first()
    return draft or SurveyVersion.objects.create(organisation_id=survey.organisation_id, survey=survey)


def _same(designed: Sequence[Question], saved: Sequence[Question]) -> bool:
    def shape(questions: Sequence[Question]) -> list[tuple[object, ...]]:
        return [
            tuple(getattr(q, name) for name in QUESTION_FIELDS)
            for q in sorted(questions, key=lambda q: q.position)
        ]

    return shape(designed) == shape(saved)


def _rewrite(draft: SurveyVersion, questions: Sequence[Question]) -> None:
    """A draft was never sent nor answered: its questions are replaced whole."""
    Question.objects.filter(version=draft).delete()
    for question in questions:
        question.pk = None
        question.version = draft
    Question.objects.bulk_create(questions)


@transaction.atomic
def change_draft(*, organisation: Organisation, survey_id: int, changes: DraftChanges) -> SurveyVersion:
    """Apply one edit to the survey's draft (started from the published version if need be).

    Everything is checked before anything is written: a refused edit changes nothing.
    """
    survey = _locked_survey(organisation, survey_id)
    current = (
        SurveyVersion.objects.filter(survey=survey, number__isnull=True).first() or survey.current_version
    )
    questions = list(current.questions.all()) if current is not None else []
    designed, problems = designed_questions(questions, changes)
    if changes.name is not None and not changes.name.strip():
        problems["name"] = _("Please name the survey.")
    problems |= design_problems(designed, required_language=organisation.default_locale)
    if problems:
        raise SurveyDesignInvalid(problems)
    if changes.name is not None and changes.name.strip() != survey.name:
        survey.name = changes.name.strip()[:200]
        survey.save(update_fields=["name"])
    if current is not None and not current.is_draft and _same(designed, questions):
        return current  # nothing to change: no draft is started
    draft = _draft(survey)
    _rewrite(draft, designed)
    return draft


@transaction.atomic
def create_survey(
    *,
    organisation: Organisation,
    touchpoint: Touchpoint,
    name: str = "",
    kinds: Sequence[str] = ("nps", "resolution", "advisor", "text"),
    now: datetime | None = None,
) -> Survey:
    """A touchpoint's survey, as a draft of questions from the library: nothing is sent before it is
    published. A touchpoint has one survey in use; another one is refused."""
    if Survey.objects.filter(organisation=organisation, touchpoint=touchpoint, is_active=True).exists():
        raise ValidationFailed(
            _("This touchpoint already has a survey: change it in the designer."), field="touchpoint"
        )
    designed, problems = designed_questions([], DraftChanges(add=kinds))
    problems |= design_problems(designed, required_language=organisation.default_locale)
    if problems:
        raise SurveyDesignInvalid(problems)
    survey = Survey.objects.create(
        organisation=organisation,
        touchpoint=touchpoint,
        name=(name.strip() or touchpoint.label(organisation.default_locale))[:200],
        created_at=now or timezone.now(),
    )
    _rewrite(SurveyVersion.objects.create(organisation=organisation, survey=survey), designed)
    record(
        organisation=organisation,
        action="survey.created",
        target=survey,
        after={"touchpoint": touchpoint.code},
    )
    return survey


@transaction.atomic
def publish_survey(
    *,
    organisation: Organisation,
    survey_id: int,
    by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> SurveyVersion:
    """The draft becomes the next version, immutable; new invitations are sent with it, those already
    sent keep theirs."""
    survey = _locked_survey(organisation, survey_id)
    draft = SurveyVersion.objects.filter(survey=survey, number__isnull=True).first()
    if draft is None:
        raise ValidationFailed(
            _("Nothing to publish: nothing changed since the last version."), field="draft"
        )
    problems = design_problems(
        list(draft.questions.all()), required_language=organisation.default_locale, publishing=True
    )
    if problems:
        raise SurveyDesignInvalid(problems)
    latest = SurveyVersion.objects.filter(survey=survey).aggregate(latest=Max("number"))["latest"] or 0
    draft.number = latest + 1
    draft.published_at = now or timezone.now()
    draft.published_by = by if by is not None and by.is_authenticated else None
    draft.save(update_fields=["number", "published_at", "published_by"])
    before_number = survey.current_version.number if survey.current_version_id else None
    survey.current_version = draft
    survey.save(update_fields=["current_version"])
    record(
        organisation=organisation,
        action="survey.published",
        target=survey,
        before={"version": before_number},
        after={"version": draft.number},
        at=draft.published_at,
    )
    return draft


@transaction.atomic
def discard_draft(*, organisation: Organisation, survey_id: int) -> None:
    """Forget the draft's changes: the designer shows the published version again."""
    survey = _locked_survey(organisation, survey_id)
    if survey.current_version_id is None:
        raise ValidationFailed(
            _("This survey was never published: its draft is all there is."), field="draft"
        )
    SurveyVersion.objects.filter(survey=survey, number__isnull=True).delete()
