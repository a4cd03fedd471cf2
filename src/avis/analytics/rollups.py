"""The sufficient statistics of answers, defined once: for the roll-ups and for raw recomputation.

Every figure avis shows (NPS, top-box shares, means such as CES with their t interval,
resolution rate, response rate) is a function of sums of these columns, so a
week, a month or a quarter is the sum of its days. ``answer_statistics``
aggregates any set of answers; the roll-up services feed it one response at a
time, the rebuild all of them, and the segment filter (a customer attribute,
not kept in the roll-ups) the matching raw answers. Invitations likewise:
``invitation_aggregates`` counts the sent ones and the answered ones.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from avis.surveys.models import Answer, Attribution, Invitation, InvitationStatus, QuestionKind, Response

_ANSWERED = Q(not_applicable=False)
_NPS = _ANSWERED & Q(kind=QuestionKind.NPS)
_RESOLUTION = _ANSWERED & Q(attribution=Attribution.RESOLUTION)
_CSAT = _ANSWERED & Q(kind=QuestionKind.CSAT) & ~Q(attribution=Attribution.AGENT)
_AGENT = _ANSWERED & Q(kind=QuestionKind.CSAT, attribution=Attribution.AGENT)
_CES = _ANSWERED & Q(kind=QuestionKind.CES)
TOP_TWO = 4  # CSAT 1–5: 4 and 5 are the top two boxes
RESOLUTIONS = ("yes", "partly", "no")
# The answers behind each proportion-like metric, for the weighted figures (``weighted.py``): the
# same answers as the roll-ups' counts of ``nps``, ``csat`` (all CSAT) and ``resolution_rate``.
NPS_ANSWERS = _NPS
CSAT_ANSWERS = _CSAT | _AGENT
RESOLUTION_ANSWERS = _RESOLUTION & Q(choice__in=RESOLUTIONS)


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
        "ces_n": Count("id", filter=_CES),
        "ces_sum": Sum("number", filter=_CES),
        "ces_sumsq": Sum(square, filter=_CES),
    }


ANSWER_MEASURES: tuple[str, ...] = tuple(answer_aggregates())


def answer_increments(answer: Answer) -> dict[str, int]:
    """One answer's share of each statistic of ``answer_aggregates``, computed in Python from an
    answer in hand (the submit adds its own answers without reading them back). The two
    definitions must agree: the roll-ups' equality test against a rebuild checks they do."""
    added: dict[str, int] = {}
    number, answered = answer.number, not answer.not_applicable

    def count(prefix: str) -> None:
        added[f"{prefix}_n"] = 1
        if number is not None:
            added[f"{prefix}_sum"] = number
            added[f"{prefix}_sumsq"] = number * number
            if prefix != "ces" and number >= TOP_TWO:
                added[f"{prefix}_top2"] = 1

    if answer.attribution == Attribution.AGENT and not answered:
        added["agent_na"] = 1
    if not answered:
        return added
    if answer.kind == QuestionKind.NPS and number is not None:
        group = "promoters" if number >= 9 else "passives" if number >= 7 else "detractors"
        added[f"nps_{group}"] = 1
    if answer.attribution == Attribution.RESOLUTION and answer.choice in RESOLUTIONS:
        added[f"resolved_{answer.choice}"] = 1
    if answer.kind == QuestionKind.CSAT:
        count("agent" if answer.attribution == Attribution.AGENT else "csat")
    if answer.kind == QuestionKind.CES:
        count("ces")
    return added


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


# An invitation counts in the response rate once it has left (or was answered before its send was
# recorded); cancelled and still scheduled ones were never put to the customer.
SENT_INVITATIONS = Q(status__in=[InvitationStatus.SENT, InvitationStatus.RESPONDED])


def invitation_aggregates() -> dict[str, Count]:
    """The response rate's counts over invitations already limited to ``SENT_INVITATIONS``."""
    return {"invited": Count("id"), "responded": Count("id", filter=Q(status=InvitationStatus.RESPONDED))}


def daily_invitation_statistics(
    invitations: QuerySet[Invitation], zone: ZoneInfo, *measures: str
) -> QuerySet:
    """Per roll-up key, bucketed on the day the invitation was planned for: ``measures`` of
    ``invitation_aggregates`` (both by default)."""
    aggregates = invitation_aggregates()
    return (
        invitations.annotate(
            team_id=F("interaction__team_id"),
            agent_id=F("interaction__agent_id"),
            row_channel=F("channel"),
            row_day=TruncDate("planned_at", tzinfo=zone),
        )
        .values("touchpoint_id", "team_id", "agent_id", "row_channel", "row_day")
        .annotate(**{m: aggregates[m] for m in measures or aggregates})
        .order_by()
    )


def daily_responded_counts(responses: QuerySet[Response], zone: ZoneInfo) -> QuerySet:
    """Answered invitations, on the day each was planned for (the bucket of its ``invited``)."""
    return (
        responses.annotate(
            row_channel=F("invitation__channel"), row_day=TruncDate("invitation__planned_at", tzinfo=zone)
        )
        .values("touchpoint_id", "team_id", "agent_id", "row_channel", "row_day")
        .annotate(responded=Count("id"))
        .order_by()
    )
