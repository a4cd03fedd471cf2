from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.cases import services
from avis.cases.effect import closed_loop_effect
from avis.cases.models import AlertRule, Case, RootCause, WebhookDelivery
from avis.cases.queries import callback_preference, case_detail, cases_of, root_causes_of, webhook_log

router = Router(tags=["cases"])


class AnswerOut(Schema):
    question: str
    number: int | None
    choice: str | None
    text: str | None
    not_applicable: bool


class CaseOut(Schema):
    id: int
    status: str
    outcome: str | None
    reasons: list[str]
    severity: int
    root_cause: str | None
    do_not_call: bool
    escalation_level: int
    customer: str
    touchpoint: str
    agent: str | None
    team: str | None
    assigned_to: str | None
    opened_at: datetime
    due_at: datetime
    first_contact_at: datetime | None
    closed_at: datetime | None

    @staticmethod
    def of(case: Case) -> CaseOut:
        return CaseOut(
            id=case.id,
            status=case.status,
            outcome=case.outcome or None,
            reasons=case.reasons,
            severity=case.severity,
            root_cause=case.root_cause.label if case.root_cause else None,
            do_not_call=case.do_not_call,
            escalation_level=case.escalation_level,
            customer=case.customer.external_id,
            touchpoint=case.touchpoint.code,
            agent=case.agent.external_id if case.agent else None,
            team=case.team.code if case.team else None,
            assigned_to=case.assigned_to.get_username() if case.assigned_to else None,
            opened_at=case.opened_at,
            due_at=case.due_at,
            first_contact_at=case.first_contact_at,
            closed_at=case.closed_at,
        )


class CallbackOut(Schema):
    """The customer's word on being called back: consent yes / no / null when not asked."""

    consent: str | None
    channel: str | None
    time: str | None


class EventOut(Schema):
    """One line of the case's timeline: what happened, when, by whom (null: avis itself)."""

    at: datetime
    kind: str
    actor: str | None
    note: str
    data: dict[str, Any]


class CaseDetailOut(CaseOut):
    answers: list[AnswerOut]
    callback: CallbackOut
    timeline: list[EventOut]


class CasePatch(Schema):
    status: Literal["in_progress", "contacted", "resolved", "closed", "reopened"] | None = None
    outcome: str | None = None
    root_cause_id: int | None = None
    channel: str = "phone"
    note: str | None = None


class RuleIn(Schema):
    name: str = ""
    condition: str
    threshold: int | None = Field(default=None, ge=-100, le=100)
    words: list[str] = []
    window_days: int = Field(default=30, ge=1, le=365)
    touchpoint_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    survey_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    severity: int = Field(default=2, ge=1, le=4)
    is_active: bool = True


class RulePatch(Schema):
    name: str | None = None
    threshold: int | None = Field(default=None, ge=-100, le=100)
    words: list[str] | None = None
    window_days: int | None = Field(default=None, ge=1, le=365)
    severity: int | None = Field(default=None, ge=1, le=4)
    is_active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    condition: str
    threshold: int | None
    words: list[str]
    window_days: int
    touchpoint_id: int | None
    survey_id: int | None
    severity: int
    is_active: bool

    @staticmethod
    def of(rule: AlertRule) -> RuleOut:
        return RuleOut(**{name: getattr(rule, name) for name in RuleOut.model_fields})


class RootCauseIn(Schema):
    label: str
    is_active: bool = True


class RootCauseOut(Schema):
    id: int
    label: str
    is_active: bool

    @staticmethod
    def of(cause: RootCause) -> RootCauseOut:
        return RootCauseOut(id=cause.id, label=cause.label, is_active=cause.is_active)


class WebhookIn(Schema):
    url: str
    secret: str = ""


class WebhookOut(Schema):
    id: int
    url: str
    secret: str
    is_active: bool


class TryOut(Schema):
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryOut(Schema):
    id: int
    event: str
    case_id: int | None
    status: str
    attempts: int
    delivered_at: datetime | None
    tries: list[TryOut]

    @staticmethod
    def of(delivery: WebhookDelivery) -> DeliveryOut:
        tries = [
            TryOut(at=t.at, status_code=t.status_code, error=t.error, duration_ms=t.duration_ms)
            for t in delivery.tries.all()
        ]
        return DeliveryOut(
            id=delivery.id,
            event=delivery.event,
            case_id=delivery.case_id,
            status=delivery.status,
            attempts=delivery.attempts,
            delivered_at=delivery.delivered_at,
            tries=tries,
        )


@router.get("/rules", response=list[RuleOut])
def list_rules(request: HttpRequest) -> list[RuleOut]:
    """The alert rules that open cases; an organisation starts with NPS ≤ 6 and "not resolved"."""
    return [RuleOut.of(rule) for rule in services.ensure_alert_rules(organisation=organisation_of(request))]


@router.post("/rules", response={201: RuleOut})
def create_rule(request: HttpRequest, payload: RuleIn) -> Status:
    organisation = organisation_of(request)
    changes = services.rule_changes(organisation=organisation, raw=payload.dict())
    return Status(201, RuleOut.of(services.save_alert_rule(organisation=organisation, changes=changes)))


@router.patch("/rules/{rule_id}", response=RuleOut)
def patch_rule(request: HttpRequest, rule_id: int, payload: RulePatch) -> RuleOut:
    organisation = organisation_of(request)
    changes = services.rule_changes(organisation=organisation, raw=payload.dict(exclude_unset=True))
    return RuleOut.of(services.save_alert_rule(organisation=organisation, changes=changes, rule_id=rule_id))


@router.get("/root-causes", response=list[RootCauseOut])
def list_root_causes(request: HttpRequest) -> list[RootCauseOut]:
    return [
        RootCauseOut.of(c) for c in root_causes_of(organisation=organisation_of(request), active_only=False)
    ]


@router.post("/root-causes", response={201: RootCauseOut})
def create_root_cause(request: HttpRequest, payload: RootCauseIn) -> Status:
    cause = services.save_root_cause(
        organisation=organisation_of(request), label=payload.label, is_active=payload.is_active
    )
    return Status(201, RootCauseOut.of(cause))


@router.post("/webhooks", response={201: WebhookOut})
def create_webhook(request: HttpRequest, payload: WebhookIn) -> Status:
    """Add an endpoint; the secret (given or generated) signs every delivery: keep it."""
    endpoint = services.add_webhook_endpoint(
        organisation=organisation_of(request), url=payload.url, secret=payload.secret
    )
    out = WebhookOut(id=endpoint.id, url=endpoint.url, secret=endpoint.secret, is_active=endpoint.is_active)
    return Status(201, out)


@router.get("/webhooks/deliveries", response=list[DeliveryOut])
def list_deliveries(request: HttpRequest) -> list[DeliveryOut]:
    """The delivery log: every try of every event, newest first."""
    return [DeliveryOut.of(d) for d in webhook_log(organisation=organisation_of(request))[:200]]


class CalendarIn(Schema):
    hours: dict[str, list[str]]
    sla_hours: int


class CalendarOut(CalendarIn):
    country: str
    time_zone: str


@router.get("/calendar", response=CalendarOut)
def get_calendar(request: HttpRequest) -> CalendarOut:
    """Opening hours per weekday ("0" is Monday) and the SLA in open hours; holidays by country."""
    organisation = organisation_of(request)
    calendar = services.calendar_of(organisation=organisation)
    return CalendarOut(
        hours=calendar.hours,
        sla_hours=calendar.sla_hours,
        country=organisation.default_region,
        time_zone=organisation.default_time_zone,
    )


@router.put("/calendar", response=CalendarOut)
def put_calendar(request: HttpRequest, payload: CalendarIn) -> CalendarOut:
    services.save_calendar(
        organisation=organisation_of(request), hours=payload.hours, sla_hours=payload.sla_hours
    )
    return get_calendar(request)


class StepIn(Schema):
    strategy: str
    team_id: int | None = None
    user_id: int | None = None


class LadderIn(Schema):
    steps: list[StepIn]


@router.put("/assignment", response=list[StepIn])
def put_assignment(request: HttpRequest, payload: LadderIn) -> list[StepIn]:
    """Replace the assignment ladder: the first step owns new cases, the next ones escalate."""
    steps = services.save_assignment_rules(
        organisation=organisation_of(request), steps=[step.dict() for step in payload.steps]
    )
    return [StepIn(strategy=s.strategy, team_id=s.team_id, user_id=s.user_id) for s in steps]


@router.get("/effect")
def get_effect(request: HttpRequest, days: int = 90) -> dict[str, Any]:
    """Time to first contact and SLA attainment by team, share resolved, recovery and churn of
    customers handled in time against those who were not, root causes — each with n and a 95 % CI."""
    now = timezone.now()
    effect = closed_loop_effect(
        organisation=organisation_of(request), since=now - timedelta(days=max(1, min(days, 730))), until=now
    )
    return asdict(effect)


@router.get("", response=list[CaseOut])
def list_cases(request: HttpRequest, status: str | None = None, open_only: bool = False) -> list[CaseOut]:
    cases = cases_of(organisation=organisation_of(request), status=status, open_only=open_only)[:500]
    return [CaseOut.of(case) for case in cases]


@router.get("/{case_id}", response=CaseDetailOut)
def get_case(request: HttpRequest, case_id: int) -> CaseDetailOut:
    case = case_detail(organisation=organisation_of(request), case_id=case_id)
    answers = [
        AnswerOut(
            question=a.question.code,
            number=a.number,
            choice=a.choice or None,
            text=a.text or None,
            not_applicable=a.not_applicable,
        )
        for a in case.response.answers.all()
    ]
    said = callback_preference(case=case)
    callback = CallbackOut(
        consent=said["consent"] or None, channel=said["channel"] or None, time=said["time"] or None
    )
    timeline = [
        EventOut(
            at=event.at,
            kind=event.kind,
            actor=event.actor.get_username() if event.actor else None,
            note=event.note,
            data=event.data,
        )
        for event in case.events.all()
    ]
    return CaseDetailOut(answers=answers, callback=callback, timeline=timeline, **CaseOut.of(case).dict())


@router.patch("/{case_id}", response=CaseOut)
def patch_case(request: HttpRequest, case_id: int, payload: CasePatch) -> CaseOut:
    """Move the case on (`in_progress`, `contacted`, `resolved` with an outcome, `closed`,
    `reopened`), set its root cause, or add a note."""
    organisation = organisation_of(request)
    user = request.user if request.user.is_authenticated else None
    note = payload.note or ""
    if payload.note and not payload.status:
        services.add_case_note(organisation=organisation, case_id=case_id, user=user, note=payload.note)
    if payload.root_cause_id and payload.status != "resolved":
        services.set_root_cause(
            organisation=organisation, case_id=case_id, user=user, root_cause_id=payload.root_cause_id
        )
    if payload.status == "in_progress":
        services.take_case(organisation=organisation, case_id=case_id, user=user)
    elif payload.status == "contacted":
        services.mark_customer_contacted(
            organisation=organisation, case_id=case_id, user=user, note=note, channel=payload.channel
        )
    elif payload.status == "resolved":
        services.resolve_case(
            organisation=organisation,
            case_id=case_id,
            user=user,
            outcome=payload.outcome or "",
            note=note,
            root_cause_id=payload.root_cause_id,
        )
    elif payload.status == "closed":
        services.close_case(organisation=organisation, case_id=case_id, user=user, note=note)
    elif payload.status == "reopened":
        services.reopen_case(organisation=organisation, case_id=case_id, user=user, note=note)
    return CaseOut.of(case_detail(organisation=organisation, case_id=case_id))
