"""Which questions a respondent is asked, given the answers so far: decided here, once.

The web page, the invitation email (whose first question is never conditional), the SMS
conversation and ``submit_response`` all call ``applicable_questions``, so "ask this only if
NPS ≤ 6" or "only if not resolved" means the same on every channel.

A condition names an earlier question and either ``at_most`` (a score: 0–10, 1–5, 1–7) or
``among`` (choice values). Answers are raw, as the web form posts them ("9", "yes", "na", a text).
A condition is met only by an answer to a question that was itself asked: a follow-up of a
follow-up is skipped with its parent. "Not applicable" meets no condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar


class Conditional(Protocol):
    code: str
    condition: dict


Q = TypeVar("Q", bound=Conditional)


def is_met(condition: Mapping[str, object], answers: Mapping[str, object]) -> bool:
    """Whether the answers meet one question's condition ({} is always met)."""
    if not condition:
        return True
    raw = str(answers.get(str(condition.get("question")), "") or "").strip()
    if not raw or raw == "na":
        return False
    if "at_most" in condition:
        return raw.lstrip("-").isdigit() and int(raw) <= int(condition["at_most"])  # type: ignore[call-overload]
    return raw in condition.get("among", ())  # type: ignore[operator]


def applicable_questions(questions: Sequence[Q], answers: Mapping[str, object]) -> list[Q]:
    """The questions to ask, in order, given the answers so far (answers to skipped ones ignored)."""
    asked: list[Q] = []
    heard: dict[str, object] = {}
    for question in questions:
        if is_met(question.condition, heard):
            asked.append(question)
            if question.code in answers:
                heard[question.code] = answers[question.code]
    return asked


def next_question_index(questions: Sequence[Q], answers: Mapping[str, object], *, after: int) -> int | None:
    """Index of the first question after ``after`` that applies given ``answers``; None when done.

    An SMS conversation asks one question at a time: this is its next turn.
    """
    asked = {id(question) for question in applicable_questions(questions, answers)}
    for index in range(after + 1, len(questions)):
        if id(questions[index]) in asked:
            return index
    return None
