from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from avis.accounts.models import Organisation
from avis.cases.models import (
    AgentLink,
    AlertRule,
    AssignmentRule,
    Case,
    CaseEvent,
    EventKind,
    RootCause,
    Severity,
    TeamOwner,
    WebhookDelivery,
    WebhookEndpoint,
)
from avis.errors import NotFound
from avis.governance.queries import contact_pressure
from avis.interactions.models import Agent
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Answer, Response


def cases_of(
    *,
    organisation: Organisation,
    status: str | None = None,
    open_only: bool = False,
    assigned_to: Any = None,
    severity: int | None = None,
    overdue_at: datetime | None = None,
) -> QuerySet[Case]:
    """The organisation's cases, newest first; ``overdue_at``: those still open past their due time then."""
    cases = Case.objects.filter(organisation=organisation).select_related(
        "customer", "touchpoint", "agent", "team", "assigned_to", "response", "root_cause"
    )
    if status:
        cases = cases.filter(status=status)
    if open_only:
        cases = cases.exclude(status__in=["resolved", "closed"])
    if assigned_to is not None:
        cases = cases.filter(assigned_to=assigned_to)
    if severity is not None:
        cases = cases.filter(severity=severity)
    if overdue_at is not None:
        cases = cases.exclude(status__in=["resolved", "closed"]).filter(due_at__lt=overdue_at)
    return cases.order_by("-opened_at", "-id")


def case_detail(*, organisation: Organisation, case_id: int) -> Case:
    case = (
        cases_of(organisation=organisation)
        .prefetch_related(
            "events__actor", "events__response__answers__question", "response__answers__question"
        )
        .filter(id=case_id)
        .first()
    )
    if case is None:
        raise NotFound("No such case.")
    return case


def case_timeline(*, case: Case) -> list[tuple[CaseEvent, OutboundMessage | None]]:
    """The case's events in order, each text notice with its message, so the page says whether
    the SMS left, waits for the morning, failed or was withdrawn."""
    events = list(case.events.all())
    ids = [
        e.data.get("message_id") for e in events if e.kind == EventKind.NOTIFIED and e.data.get("message_id")
    ]
    messages = {
        m.id: m for m in OutboundMessage.objects.filter(organisation_id=case.organisation_id, id__in=ids)
    }
    return [(event, messages.get(event.data.get("message_id") or 0)) for event in events]


def users_of(*, organisation: Organisation) -> list[Any]:
    """The organisation's members, for pickers (fallback owner, team owners)."""
    return list(get_user_model().objects.filter(memberships__organisation=organisation).order_by("username"))


def root_causes_of(*, organisation: Organisation, active_only: bool = True) -> QuerySet[RootCause]:
    causes = RootCause.objects.filter(organisation=organisation)
    return causes.filter(is_active=True) if active_only else causes


def alert_rules_of(*, organisation: Organisation) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(organisation=organisation).select_related("touchpoint", "survey")


def webhook_log(*, organisation: Organisation) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(organisation=organisation)
        .select_related("endpoint")
        .prefetch_related("tries")
        .order_by("-id")
    )


def webhook_endpoints_of(*, organisation: Organisation) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organisation=organisation).order_by("id")


def assignment_ladder_of(*, organisation: Organisation) -> QuerySet[AssignmentRule]:
    return AssignmentRule.objects.filter(organisation=organisation).select_related("team", "user")


def team_owners_of(*, organisation: Organisation) -> QuerySet[TeamOwner]:
    return (
        TeamOwner.objects.filter(organisation=organisation)
        .select_related("team", "user")
        .order_by("team__code")
    )


def callback_preference(*, case: Case, language: str = "en") -> dict[str, str]:
    """What the customer said about being called back, the latest answer winning: ``consent``
    (yes / no / "" when not asked), ``channel`` and ``time`` as chosen, and each choice as the
    customer read it in ``language`` (``channel_label``, ``time_label``)."""
    response_ids = [
        case.response_id,
        *case.events.filter(response__isnull=False).values_list("response_id", flat=True),
    ]
    wanted = {"callback": "consent", "callback_channel": "channel", "callback_time": "time"}
    found = {"consent": "", "channel": "", "time": "", "channel_label": "", "time_label": ""}
    for answer in (
        Answer.objects.filter(
            organisation_id=case.organisation_id,
            response_id__in=response_ids,
            question__code__in=list(wanted),
        )
        .select_related("question")
        .order_by("answered_at", "id")
    ):
        key = wanted[answer.question.code]
        found[key] = answer.choice
        labels = {c["value"]: c["label"] for c in answer.question.choices}
        label = labels.get(answer.choice, {})
        found[f"{key}_label"] = label.get(language) or label.get("en") or answer.choice
    return found


@dataclass
class CaseRow:
    """One line of the manager's live list: the case, what the customer said, how often we asked."""

    case: Case
    answers: dict[str, Answer]
    pressure: dict[int, int]
    earlier_cases: int


def live_case_rows(
    *,
    organisation: Organisation,
    status: str | None,
    now: datetime,
    limit: int = 50,
    severity: int | None = None,
    overdue: bool = False,
) -> list[CaseRow]:
    cases = list(
        cases_of(
            organisation=organisation,
            status=status,
            open_only=status is None,
            severity=severity,
            overdue_at=now if overdue else None,
        ).prefetch_related("response__answers__question")[:limit]
    )
    customers = {case.customer_id: case.customer for case in cases}
    # One pressure query per customer on the page (at most ``limit``): governance owns the count.
    pressure = {
        customer_id: contact_pressure(organisation=organisation, customer=customer, now=now)
        for customer_id, customer in customers.items()
    }
    earlier = dict(
        Case.objects.filter(organisation=organisation, customer_id__in=list(customers))
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    return [
        CaseRow(
            case=case,
            answers={a.question.code: a for a in case.response.answers.all()},
            pressure=pressure[case.customer_id],
            earlier_cases=earlier.get(case.customer_id, 1) - 1,
        )
        for case in cases
    ]


def agent_of(*, organisation: Organisation, user: Any) -> Agent | None:
    link = AgentLink.objects.filter(organisation=organisation, user=user).select_related("agent").first()
    return link.agent if link else None


def feedback_about(*, organisation: Organisation, agent: Agent, limit: int = 100) -> QuerySet[Response]:
    """The responses about interactions this agent handled, newest first — for their coaching,
    never compared with anyone else's."""
    return (
        Response.objects.filter(organisation=organisation, agent=agent)
        .select_related("touchpoint")
        .prefetch_related("answers__question")
        .order_by("-completed_at", "-id")[:limit]
    )


def agent_links_of(*, organisation: Organisation) -> QuerySet[AgentLink]:
    return AgentLink.objects.filter(organisation=organisation).select_related("user", "agent")


@dataclass(frozen=True)
class OpenCases:
    """What needs a manager now: the open cases by severity, and those past their due time."""

    total: int
    overdue: int
    by_severity: list[tuple[int, str, int, int]]  # severity, its name, open, of which overdue


def open_cases_summary(*, organisation: Organisation, now: datetime) -> OpenCases:
    """Open cases counted by severity (most severe first) and overdue, in one query."""
    rows = (
        cases_of(organisation=organisation, open_only=True)
        .order_by()
        .values("severity")
        .annotate(n=Count("id"), late=Count("id", filter=Q(due_at__lt=now)))
    )
    counts = {row["severity"]: (row["n"], row["late"]) for row in rows}
    by_severity = [
        (int(value), str(label), *counts.get(value, (0, 0))) for value, label in reversed(Severity.choices)
    ]
    return OpenCases(
        total=sum(n for n, _late in counts.values()),
        overdue=sum(late for _n, late in counts.values()),
        by_severity=by_severity,
    )
