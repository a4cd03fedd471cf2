"""The sufficient statistics of answers, defined once: for the roll-ups and for raw recomputation.

Every figure avis shows (NPS, top-box shares, means with their t interval,
resolution rate) is a function of sums of these columns, so a week, a month or
a quarter is the sum of its days. ``answer_statistics`` aggregates any set of
answers; the roll-up services feed it one response at a time, the rebuild all
of them, and the segment filter (a customer attribute, not kept in the
roll-ups) the matching raw answers.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from avis.surveys.models import Answer, Attribution, QuestionKind, Response

_ANSWERED = Q(not_applicable=False)
_NPS = _ANSWERED & Q(kind=QuestionKind.NPS)
_RESOLUTION = _ANSWERED & Q(attribution=Attribution.RESOLUTION)
_CSAT = _ANSWERED & Q(kind=QuestionKind.CSAT) & ~Q(attribution=Attribution.AGENT)
_AGENT = _ANSWERED & Q(kind=QuestionKind.CSAT, attribution=Attribution.AGENT)
TOP_TWO = 4  # CSAT 1–5: 4 and 5 are the top two boxes


def answer_aggregates() -> dict[str, Count | Sum]:
    """Every statistic of the roll-ups as an aggregate over answers."""
    square = F("number") * F("number")
    return {
        "nps_promoters": Count("id", filter=_NPS & Q(number__gte=9)),
        "nps_passives": Count("id", filter=_NPS & Q(number__gte=7, number__lte=8)),
        "nps_detractors": Count("id", filter=_NPS & Q(number__lte=6)),
        "resolved_yes": Count("id", filter=_RESOLUTION & Q(choice="yes")),
        "resolved_partly": Count("id", filter=_RESOLUTION & Q(choice="partly")),
        "resolved_no": Count("id", filter=_RESOLUTION & Q(choice="no")),
        "csat_n": Count("id", filter=_CSAT),
        "csat_top2": Count("id", filter=_CSAT & Q(number__gte=TOP_TWO)),
        "csat_sum": Sum("number", filter=_CSAT),
        "csat_sumsq": Sum(square, filter=_CSAT),
        "agent_n": Count("id", filter=_AGENT),
        "agent_top2": Count("id", filter=_AGENT & Q(number__gte=TOP_TWO)),
        "agent_sum": Sum("number", filter=_AGENT),
        "agent_sumsq": Sum(square, filter=_AGENT),
        "agent_na": Count("id", filter=Q(attribution=Attribution.AGENT, not_applicable=True)),
    }


ANSWER_MEASURES: tuple[str, ...] = tuple(answer_aggregates())


def answer_statistics(answers: QuerySet[Answer], *group: str, **expressions: object) -> QuerySet:
    """``answers`` grouped by ``group`` (fields or the named ``expressions``), with every statistic."""
    return answers.annotate(**expressions).values(*group).annotate(**answer_aggregates()).order_by()  # type: ignore[arg-type]


def daily_answer_statistics(answers: QuerySet[Answer], zone: ZoneInfo) -> QuerySet:
    """Per roll-up key: touchpoint, team, agent, channel and the day in ``zone``."""
    return answer_statistics(
        answers,
        "touchpoint_id",
        "team_id",
        "agent_id",
        "row_channel",
        "row_day",
        row_channel=F("response__channel"),
        row_day=TruncDate("answered_at", tzinfo=zone),
    )


def daily_response_counts(responses: QuerySet[Response], zone: ZoneInfo) -> QuerySet:
    return (
        responses.annotate(row_channel=F("channel"), row_day=TruncDate("completed_at", tzinfo=zone))
        .values("touchpoint_id", "team_id", "agent_id", "row_channel", "row_day")
        .annotate(responses=Count("id"))
        .order_by()
    )
