"""What a question says to one customer: the text in their language, placeholders filled in.

Two placeholders exist, ``{company}`` (the organisation's name) and ``{touchpoint}`` (the
touchpoint's name in the customer's language). The designer refuses any other text between
braces, since it would reach customers as is. Every channel renders prompts through ``prompt_for``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avis.surveys.models import Question

COMPANY_PLACEHOLDER = "{company}"
TOUCHPOINT_PLACEHOLDER = "{touchpoint}"
PLACEHOLDERS = (COMPANY_PLACEHOLDER, TOUCHPOINT_PLACEHOLDER)
_BRACES = re.compile(r"\{[^{}]*\}|[{}]")


def localised(values: Mapping[str, str], language: str) -> str:
    """The text in ``language``, else in English, else in any language written."""
    return values.get(language) or values.get("en") or next((v for v in values.values() if v), "")


def unknown_placeholders(text: str) -> list[str]:
    """What stands between braces (or a lone brace) that is not one of the two placeholders."""
    return [found for found in _BRACES.findall(text) if found not in PLACEHOLDERS]


def filled(text: str, *, company: str, touchpoint: str) -> str:
    return text.replace(COMPANY_PLACEHOLDER, company).replace(TOUCHPOINT_PLACEHOLDER, touchpoint)


def prompt_for(prompt: Mapping[str, str], language: str, *, company: str, touchpoint: str) -> str:
    """A question's prompt as one customer reads it."""
    return filled(localised(prompt, language), company=company, touchpoint=touchpoint)


def page_questions(
    questions: Sequence[Question], language: str, *, company: str, touchpoint: str
) -> list[dict[str, object]]:
    """The questions as the respondent's page lays them out (the page itself and the designer's preview)."""
    from avis.surveys.models import scale_of

    return [
        {
            "q": question,
            "prompt": prompt_for(question.prompt, language, company=company, touchpoint=touchpoint),
            "choices": [
                {"value": choice["value"], "label": localised(choice["label"], language)}
                for choice in question.choices
            ],
            "scale": list(scale_of(question.kind)),
            "na_label": question.not_applicable_label.get(language, ""),
        }
        for question in questions
    ]
