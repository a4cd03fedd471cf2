"""The survey designer's form: its field names, what was typed, and the previews beside it.

A face helper, like a view: it reads the form into a ``design.DraftChanges`` and asks messaging
for the previews; the rules for what may be saved live in ``surveys.design``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.messaging.queries import sms_survey_cost, survey_sms_preview
from avis.messaging.rendering import invitation_email
from avis.messaging.sms_encoding import gsm7_alternative
from avis.surveys.design import (
    CHOICE_LABEL_MAX_LENGTH,
    PROMPT_MAX_LENGTH,
    DraftChanges,
    QuestionTexts,
    choice_field,
    choices_editable,
    condition_field,
    prompt_field,
    reworded_question,
)
from avis.surveys.models import SCALES, Question, QuestionKind, Survey
from avis.surveys.wording import localised, page_questions
from avis.words import answer_label, question_label


@dataclass(frozen=True)
class TextField:
    name: str
    label: str
    value: str
    error: str
    max_length: int
    multiline: bool
    choice: str = ""  # the choice's value, for a choice label


@dataclass(frozen=True)
class SmsGroup:
    """One question's texts in one language, and the SMS they make."""

    question: Question
    language: str
    language_name: str
    fields: list[TextField]
    preview: dict[str, object]
    preview_url: str
    gsm7_differs: bool  # the one-click GSM-7 version would change something the admin can edit

    @property
    def dom_id(self) -> str:
        return f"sms-{self.question.code}-{self.language}"

    @property
    def dom_selector(self) -> str:
        return f"#{self.dom_id}"

    @property
    def include_selector(self) -> str:
        """The group's own fields: what its preview and its GSM-7 button send."""
        return f"#{self.dom_id} [name]"

    @property
    def gsm7_url(self) -> str:
        return self.preview_url if self.gsm7_differs else ""


def editor_languages(organisation: Organisation) -> list[str]:
    """The organisation's default language first: it is the one that may not be left empty."""
    languages = [code for code, _name in settings.LANGUAGES]
    default = organisation.default_locale if organisation.default_locale in languages else languages[0]
    return [default, *(language for language in languages if language != default)]


def texts_from_form(
    questions: Sequence[Question], data: Mapping[str, str], languages: Sequence[str]
) -> dict[str, QuestionTexts]:
    """The wording typed in the form, for the fields it carries (a preview sends one language only)."""
    texts = {}
    for question in questions:
        prompt = {
            lang: data[prompt_field(question.code, lang)]
            for lang in languages
            if prompt_field(question.code, lang) in data
        }
        labels = {
            choice["value"]: {
                lang: data[choice_field(question.code, choice["value"], lang)]
                for lang in languages
                if choice_field(question.code, choice["value"], lang) in data
            }
            for choice in question.choices
        }
        labels = {value: given for value, given in labels.items() if given}
        if prompt or labels:
            texts[question.code] = QuestionTexts(prompt=prompt, choice_labels=labels)
    return texts


# --- Conditions, as one select per question ---------------------------------------------------------
# "" always; "nps<=" with the score in "<code>.condition.at_most"; "resolved=no"; "resolved!=yes";
# "keep" for a condition set through the API that the select can't show.


def condition_options(question: Question, earlier: Sequence[Question]) -> list[tuple[str, str]]:
    """The conditions the designer offers for this question: on the earlier scores and choices."""
    options = [("", _("Always asked"))]
    for source in earlier:
        if source.kind in SCALES:
            options.append(
                (
                    f"{source.code}<=",
                    _("Only if “%(code)s” is at most…") % {"code": question_label(source.code, source)},
                )
            )
        elif source.kind == QuestionKind.CHOICE:
            for choice in source.choices:
                label = localised(choice["label"], translation.get_language() or "en")
                options.append(
                    (
                        f"{source.code}={choice['value']}",
                        _("Only if “%(code)s” is %(label)s")
                        % {"code": question_label(source.code, source), "label": label},
                    )
                )
                if len(source.choices) > 2:
                    options.append(
                        (
                            f"{source.code}!={choice['value']}",
                            _("Only if “%(code)s” is not %(label)s")
                            % {"code": question_label(source.code, source), "label": label},
                        )
                    )
    if question.condition and condition_choice(question, earlier) == "keep":
        options.append(
            ("keep", _("As set through the API: %(condition)s") % {"condition": question.condition})
        )
    return options


def condition_choice(question: Question, earlier: Sequence[Question]) -> str:
    """The option that shows the question's condition."""
    condition = question.condition
    if not condition:
        return ""
    code = str(condition.get("question", ""))
    if "at_most" in condition:
        return f"{code}<="
    among = list(condition.get("among", []))  # type: ignore[call-overload]
    source = next((q for q in earlier if q.code == code), None)
    values = [choice["value"] for choice in source.choices] if source else []
    if len(among) == 1:
        return f"{code}={among[0]}"
    left_out = [value for value in values if value not in among]
    if len(left_out) == 1 and len(values) > 2:
        return f"{code}!={left_out[0]}"
    return "keep"


def conditions_from_form(
    questions: Sequence[Question], data: Mapping[str, str]
) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """The conditions chosen in the form, and the ones that can't be read (a score that isn't one)."""
    by_code = {question.code: question for question in questions}
    conditions: dict[str, dict[str, object]] = {}
    problems: dict[str, str] = {}
    for question in questions:
        name = condition_field(question.code)
        if name not in data:
            continue
        chosen = data[name]
        if chosen == "keep":
            continue
        if not chosen:
            conditions[question.code] = {}
        elif chosen.endswith("<="):
            raw = (data.get(f"{name}.at_most") or "").strip()
            if not raw.lstrip("-").isdigit():
                problems[name] = _("Please write the highest score that asks this question.")
                continue
            conditions[question.code] = {"question": chosen[:-2], "at_most": int(raw)}
        elif "!=" in chosen:
            code, value = chosen.split("!=", 1)
            values = [choice["value"] for choice in by_code[code].choices] if code in by_code else [value]
            conditions[question.code] = {"question": code, "among": [v for v in values if v != value]}
        else:
            code, _sep, value = chosen.partition("=")
            conditions[question.code] = {"question": code, "among": [value]}
    return conditions, problems


def changes_from_form(
    questions: Sequence[Question], data: Mapping[str, str], languages: Sequence[str]
) -> tuple[DraftChanges, dict[str, str]]:
    """What the designer's form asks: the texts and conditions as typed, plus the button pressed
    (``action``: ``add:<kind>``, ``remove:<code>``, ``up:<code>``, ``down:<code>``,
    ``add_choice:<code>``, ``remove_choice:<code>:<value>``; ``save`` and ``publish`` change nothing more)."""
    conditions, problems = conditions_from_form(questions, data)
    verb, _sep, argument = (data.get("action") or "save").partition(":")
    structure: dict[str, object] = {}
    if verb == "add":
        structure["add"] = [argument]
    elif verb == "remove":
        structure["remove"] = [argument]
    elif verb in ("up", "down"):
        structure["move"] = (argument, -1 if verb == "up" else 1)
    elif verb == "add_choice":
        structure["add_choice"] = [argument]
    elif verb == "remove_choice":
        code, _sep, value = argument.partition(":")
        structure["remove_choice"] = [(code, value)]
    required = {q.code: f"{q.code}.required" in data for q in questions if f"{q.code}.shown" in data}
    changes = DraftChanges(
        texts=texts_from_form(questions, data, languages),
        conditions=conditions,
        required=required,
        name=data.get("name"),
        **structure,  # type: ignore[arg-type]
    )
    return changes, problems


# --- Previews ---------------------------------------------------------------------------------------


def in_gsm7(texts: QuestionTexts) -> QuestionTexts:
    """The same wording with every character GSM-7 lacks replaced by its closest equivalent."""
    return QuestionTexts(
        prompt={lang: gsm7_alternative(text) for lang, text in texts.prompt.items()},
        choice_labels={
            value: {lang: gsm7_alternative(label) for lang, label in labels.items()}
            for value, labels in texts.choice_labels.items()
        },
    )


def sms_group(
    survey: Survey,
    question: Question,
    *,
    opens_survey: bool,
    language: str,
    data: Mapping[str, str] | None,
    problems: Mapping[str, str],
    price_per_segment: Decimal,
    gsm7: bool = False,
) -> SmsGroup:
    """The fields of one question in one language, as typed (or saved), with the SMS they make."""
    typed = texts_from_form([question], data or {}, [language]).get(question.code, QuestionTexts())
    if gsm7:
        typed = in_gsm7(typed)
    shown = reworded_question(question, typed)
    preview = survey_sms_preview(
        shown,
        opens_survey=opens_survey,
        language=language,
        company=survey.organisation.name,
        touchpoint=survey.touchpoint.label(language),
        price_per_segment=price_per_segment,
    )
    fields = [
        TextField(
            name=prompt_field(question.code, language),
            label=_("Question"),
            value=shown.prompt.get(language, ""),
            error=problems.get(prompt_field(question.code, language), ""),
            max_length=PROMPT_MAX_LENGTH,
            multiline=True,
        )
    ]
    fields += [
        TextField(
            name=choice_field(question.code, choice["value"], language),
            label=_("Answer “%(value)s”") % {"value": answer_label(choice["value"])},
            value=choice["label"].get(language, ""),
            error=problems.get(choice_field(question.code, choice["value"], language), ""),
            max_length=CHOICE_LABEL_MAX_LENGTH,
            multiline=False,
            choice=choice["value"],
        )
        for choice in shown.choices
    ]
    return SmsGroup(
        question=question,
        language=language,
        language_name=dict(settings.LANGUAGES).get(language, language),
        fields=fields,
        preview=preview,
        preview_url=reverse("survey_editor:sms-preview", args=[survey.id, question.code, language]),
        gsm7_differs=any(gsm7_alternative(field.value) != field.value for field in fields),
    )


@dataclass(frozen=True)
class DesignedQuestion:
    """One question as the designer lays it out: its texts per language, its condition."""

    question: Question
    groups: list[SmsGroup]
    condition_options: list[tuple[str, str]]
    condition: str
    at_most: str
    condition_error: str
    first: bool
    last: bool
    choices_editable: bool


def designer_questions(
    survey: Survey,
    questions: Sequence[Question],
    *,
    languages: Sequence[str],
    data: Mapping[str, str] | None,
    problems: Mapping[str, str],
    price_per_segment: Decimal,
) -> list[DesignedQuestion]:
    """Every question of the design, each with one group of fields and SMS preview per language."""
    laid_out = []
    for index, question in enumerate(questions):
        earlier = questions[:index]
        name = condition_field(question.code)
        condition = (
            data.get(name, condition_choice(question, earlier))
            if data
            else condition_choice(question, earlier)
        )
        at_most = (
            data.get(f"{name}.at_most", "")
            if data
            else str(question.condition.get("at_most", ""))
            if question.condition
            else ""
        )
        laid_out.append(
            DesignedQuestion(
                question=question,
                groups=[
                    sms_group(
                        survey,
                        question,
                        opens_survey=index == 0,
                        language=language,
                        data=data,
                        problems=problems,
                        price_per_segment=price_per_segment,
                    )
                    for language in languages
                ],
                condition_options=condition_options(question, earlier),
                condition=condition,
                at_most=at_most,
                condition_error=problems.get(name, ""),
                first=index == 0,
                last=index == len(questions) - 1,
                choices_editable=choices_editable(question),
            )
        )
    return laid_out


def channel_previews(
    survey: Survey, questions: Sequence[Question], *, language: str, price_per_segment: Decimal
) -> dict[str, object]:
    """What a customer sees in ``language``: the mobile page, the invitation email, and the SMS
    conversation with what a completed one costs (flagged when too long for SMS)."""
    company = survey.organisation.name
    touchpoint = survey.touchpoint.label(language)
    link = "#preview"
    page = page_questions(questions, language, company=company, touchpoint=touchpoint)
    subject, _text, html = invitation_email(
        questions[0] if questions else None,
        language=language,
        company=company,
        touchpoint=touchpoint,
        link=link,
        unsubscribe=link,
        expires_at=timezone.now() + timedelta(days=settings.AVIS_INVITATION_TTL_DAYS),
    )
    conversation = [
        survey_sms_preview(
            question,
            opens_survey=index == 0,
            language=language,
            company=company,
            touchpoint=touchpoint,
            price_per_segment=price_per_segment,
        )
        | {"question": question}
        for index, question in enumerate(questions)
    ]
    cost = sms_survey_cost(
        questions,
        language=language,
        company=company,
        touchpoint=touchpoint,
        price_per_segment=price_per_segment,
    )
    return {
        "language": language,
        "language_name": dict(settings.LANGUAGES).get(language, language),
        "page": page,
        "email_subject": subject,
        "email_html": html,
        "conversation": conversation,
        "cost": cost,
    }
