"""The comments customers wrote, analysed on read, filtered, one page at a time.

Nothing is stored: the database narrows by organisation, period, touchpoint and words
first (its index on organisation, kind, answered_at), then each remaining comment is
analysed (cached by answer id, see ``verbatims.analyse_comments``) for the filters on
language, sentiment and topic. The text is masked before it leaves this module.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from avis.accounts.models import Organisation
from avis.analytics.sentiment import LearnedSentiment, learned_sentiment
from avis.analytics.verbatims import (
    CommentAnalysis,
    analyse_comments,
    mask_personal_data,
    normalise,
    words,
)
from avis.cases.models import Case
from avis.surveys.models import Answer, QuestionKind

# A filter on what the text says reads at most this many of the most recent matching
# comments; the page says so when it stopped there (narrow the period to see older ones).
MAX_SCANNED = 10_000
PER_PAGE_MAX = 100

_ACCENTED = {
    letter: variants + variants.upper()  # upper case too: PostgreSQL's ~* may fold ASCII only
    for letter, variants in {
        "a": "aàâä",
        "c": "cç",
        "e": "eéèêë",
        "i": "iîï",
        "o": "oôö",
        "u": "uùûü",
        "y": "yÿ",
    }.items()
}


@dataclass(frozen=True)
class CommentFilters:
    since: datetime | None = None
    until: datetime | None = None
    touchpoint: str | None = None
    sentiment: str | None = None
    topic: str | None = None
    language: str | None = None
    search: str = ""

    @property
    def reads_text(self) -> bool:
        return bool(self.sentiment or self.topic or self.language or self.search.strip())


@dataclass(frozen=True)
class CommentRow:
    answer_id: int
    response_id: int
    answered_at: datetime
    touchpoint: str
    touchpoint_name: str
    team: str
    agent: str
    score: int | None
    analysis: CommentAnalysis
    text: str  # masked
    case_id: int | None


@dataclass(frozen=True)
class CommentPage:
    rows: list[CommentRow]
    total: int
    page: int
    per_page: int
    truncated: bool

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _word_pattern(word: str) -> str:
    """A regular expression matching the word with or without its accents, in any case."""
    return "".join(f"[{_ACCENTED[c]}]" if c in _ACCENTED else re.escape(c) for c in normalise(word))


def _candidates(*, organisation: Organisation, filters: CommentFilters) -> QuerySet[Answer]:
    rows = Answer.objects.filter(organisation=organisation, kind=QuestionKind.TEXT).exclude(text="")
    if filters.since:
        rows = rows.filter(answered_at__gte=filters.since)
    if filters.until:
        rows = rows.filter(answered_at__lt=filters.until)
    if filters.touchpoint:
        rows = rows.filter(touchpoint__code=filters.touchpoint)
    for word in words(filters.search):
        rows = rows.filter(text__iregex=_word_pattern(word))
    return rows.order_by("-answered_at", "-id")


def _keeps(analysis: CommentAnalysis, filters: CommentFilters) -> bool:
    return (
        (not filters.language or analysis.language == filters.language)
        and (not filters.sentiment or analysis.sentiment_label == filters.sentiment)
        and (not filters.topic or filters.topic in analysis.topics)
    )


def _shows_search(text: str, search: str) -> bool:
    """The words must be in the text as shown: a search can't find a masked phone number."""
    shown = words(mask_personal_data(text))
    return all(any(word in token for token in shown) for word in words(search))


def comment_page(
    *,
    organisation: Organisation,
    filters: CommentFilters,
    page: int = 1,
    per_page: int = 25,
    language: str = "en",
) -> CommentPage:
    """One page of comments, newest first, each analysed and masked, with its score and case."""
    per_page = max(1, min(per_page, PER_PAGE_MAX))
    page = max(1, page)
    candidates = _candidates(organisation=organisation, filters=filters)
    learned = learned_sentiment(organisation)  # None: the word lists read the sentiment
    truncated = False
    if filters.reads_text:
        scanned = list(candidates.values_list("id", "text", "response__locale")[: MAX_SCANNED + 1])
        truncated = len(scanned) > MAX_SCANNED
        scanned = scanned[:MAX_SCANNED]
        analyses = analyse_comments(scanned, learned=learned)
        kept = [
            answer_id
            for answer_id, text, _locale in scanned
            if _keeps(analyses[answer_id], filters)
            and (not filters.search.strip() or _shows_search(text, filters.search))
        ]
        total = len(kept)
        wanted = kept[(page - 1) * per_page : page * per_page]
        rows = list(
            Answer.objects.filter(organisation=organisation, id__in=wanted)
            .select_related("touchpoint", "team", "agent", "response")
            .order_by("-answered_at", "-id")
        )
    else:
        total = candidates.count()
        rows = list(
            candidates.select_related("touchpoint", "team", "agent", "response")[
                (page - 1) * per_page : page * per_page
            ]
        )
    return CommentPage(_rows(organisation, rows, language, learned), total, page, per_page, truncated)


def _rows(
    organisation: Organisation, answers: list[Answer], language: str, learned: LearnedSentiment | None
) -> list[CommentRow]:
    response_ids = [a.response_id for a in answers]
    scores = dict(
        Answer.objects.filter(
            organisation=organisation, response_id__in=response_ids, kind=QuestionKind.NPS
        ).values_list("response_id", "number")
    )
    cases = dict(
        Case.objects.filter(organisation=organisation, response_id__in=response_ids).values_list(
            "response_id", "id"
        )
    )
    analyses = analyse_comments(((a.id, a.text, a.response.locale) for a in answers), learned=learned)
    return [
        CommentRow(
            answer_id=a.id,
            response_id=a.response_id,
            answered_at=a.answered_at,
            touchpoint=a.touchpoint.code,
            touchpoint_name=a.touchpoint.label(language),
            team=str(a.team) if a.team else "",
            agent=str(a.agent) if a.agent else "",
            score=scores.get(a.response_id),
            analysis=analyses[a.id],
            text=mask_personal_data(a.text),
            case_id=cases.get(a.response_id),
        )
        for a in answers
    ]
