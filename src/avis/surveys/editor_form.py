"""The survey editor's form: its field names, what was typed, and the priced SMS beside each text.

A face helper, like a view: it reads the form and asks messaging for the preview; the rules
for what may be saved live in ``surveys.services``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.messaging.queries import survey_sms_preview
from avis.messaging.sms_encoding import gsm7_alternative
from avis.surveys.models import Question, Survey
from avis.surveys.services import (
    CHOICE_LABEL_MAX_LENGTH,
    PROMPT_MAX_LENGTH,
    QuestionTexts,
    choice_field,
    prompt_field,
    reworded_question,
)


@dataclass(frozen=True)
class TextField:
    name: str
    label: str
    value: str
    error: str
    max_length: int
    multiline: bool


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
    opens_survey = question.position == min(q.position for q in survey.questions.all())
    preview = survey_sms_preview(
        shown,
        opens_survey=opens_survey,
        language=language,
        company=survey.organisation.name,
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
            label=_("Answer “%(value)s”") % {"value": choice["value"]},
            value=choice["label"].get(language, ""),
            error=problems.get(choice_field(question.code, choice["value"], language), ""),
            max_length=CHOICE_LABEL_MAX_LENGTH,
            multiline=False,
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


def editor_questions(
    survey: Survey,
    *,
    languages: Sequence[str],
    data: Mapping[str, str] | None,
    problems: Mapping[str, str],
    price_per_segment: Decimal,
) -> list[tuple[Question, list[SmsGroup]]]:
    """Every question of the survey, each with one group of fields and preview per language."""
    return [
        (
            question,
            [
                sms_group(
                    survey,
                    question,
                    language=language,
                    data=data,
                    problems=problems,
                    price_per_segment=price_per_segment,
                )
                for language in languages
            ],
        )
        for question in survey.questions.all()
    ]
