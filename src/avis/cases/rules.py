"""Which alert rules one response meets: pure reading of its answers, no writes.

Negative sentiment is scored by avis.analytics.verbatims (a module without models, meant
to be called from any app), so the one lexicon serves both the verbatim pages and alerts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from avis.analytics.verbatims import comment_sentiment
from avis.cases.models import AlertRule, Condition
from avis.surveys.models import Answer, Attribution, QuestionKind, Response

# The question of the standard survey that asks for a call-back (see surveys.services).
CALLBACK_QUESTION = "callback"

# What every organisation starts with: today's behaviour, a detractor or a problem not resolved.
DEFAULT_RULES: list[dict[str, object]] = [
    {"name": "NPS ≤ 6", "condition": Condition.DETRACTOR, "threshold": 6, "severity": 2},
    {"name": _("Not resolved"), "condition": Condition.NOT_RESOLVED, "severity": 2},
]


def _applies(rule: AlertRule, response: Response) -> bool:
    return (rule.touchpoint_id is None or rule.touchpoint_id == response.touchpoint_id) and (
        rule.survey_id is None or rule.survey_id == response.survey_id
    )


def _score_at_most(answers: Iterable[Answer], kind: str, attribution: str | None, threshold: int) -> bool:
    return any(
        a.kind == kind
        and (attribution is None or a.attribution == attribution)
        and a.number is not None
        and not a.not_applicable
        and a.number <= threshold
        for a in answers
    )


def _has_words(answers: Iterable[Answer], words: Sequence[str]) -> bool:
    comment = _comment(answers).casefold()
    return any(re.search(rf"\b{re.escape(word.casefold())}", comment) for word in words if word.strip())


def _comment(answers: Iterable[Answer]) -> str:
    return " ".join(a.text for a in answers if a.kind == QuestionKind.TEXT and a.text)


def meets(rule: AlertRule, answers: Sequence[Answer], language: str | None = None) -> bool:
    """Whether these answers meet the rule's own condition (repeat contact is decided by the caller)."""
    threshold = rule.threshold if rule.threshold is not None else -1
    match rule.condition:
        case Condition.DETRACTOR:
            return _score_at_most(answers, QuestionKind.NPS, None, threshold)
        case Condition.LOW_CSAT:
            return _score_at_most(answers, QuestionKind.CSAT, None, threshold)
        case Condition.LOW_AGENT_SCORE:
            return _score_at_most(answers, QuestionKind.CSAT, Attribution.AGENT, threshold) or (
                _score_at_most(answers, QuestionKind.NPS, Attribution.AGENT, threshold)
            )
        case Condition.NOT_RESOLVED:
            return any(a.attribution == Attribution.RESOLUTION and a.choice == "no" for a in answers)
        case Condition.CALLBACK_REQUESTED:
            return any(a.question.code == CALLBACK_QUESTION and a.choice == "yes" for a in answers)
        case Condition.COMMENT_WORDS:
            return _has_words(answers, rule.words)
        case Condition.NEGATIVE_SENTIMENT:
            comment = _comment(answers)
            # VADER's compound score in [-1, 1]; the rule's threshold is in hundredths
            # (-5 by default: Hutto & Gilbert's "negative" cut-off, -0.05).
            limit = (rule.threshold if rule.threshold is not None else -5) / 100
            return bool(comment) and comment_sentiment(comment, language) <= limit
    return False


def matching_rules(
    rules: Sequence[AlertRule],
    response: Response,
    answers: Sequence[Answer],
    *,
    last_unhappy_at: datetime | None,
) -> list[AlertRule]:
    """The rules this response meets. A repeat contact counts only when this answer is unhappy
    by another rule and the customer's previous unhappy answer is within the rule's window."""
    scoped = [rule for rule in rules if rule.is_active and _applies(rule, response)]
    met = [
        rule
        for rule in scoped
        if rule.condition != Condition.REPEAT_CONTACT and meets(rule, answers, response.locale[:2])
    ]
    if met and last_unhappy_at is not None:
        met += [
            rule
            for rule in scoped
            if rule.condition == Condition.REPEAT_CONTACT
            and last_unhappy_at >= response.completed_at - timedelta(days=rule.window_days)
        ]
    return met
