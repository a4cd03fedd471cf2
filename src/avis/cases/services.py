from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F, Max, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.accounts.queries import manager_emails, sms_number_for
from avis.audit.services import record, snapshot
from avis.bulk import columns_but_key, insert_rows, mark_inserted_with, new_row
from avis.cases import webhooks
from avis.cases.calendar import DEFAULT_HOURS, add_business_hours, next_waking_open_moment
from avis.cases.models import (
    AgentLink,
    AlertRule,
    AssignmentRule,
    BusinessCalendar,
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStatus,
    Condition,
    DeliveryStatus,
    EventKind,
    OwnerRole,
    RootCause,
    Severity,
    Strategy,
    TeamOwner,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from avis.cases.rules import CALLBACK_QUESTION, DEFAULT_RULES, matching_rules
from avis.compiled import bound_value, column_names, prepared_cursor, typed_params
from avis.customers.models import Channel, Customer
from avis.errors import NotFound, ValidationFailed
from avis.isolation import apart
from avis.kept import KeptPerOrganisation, register
from avis.messaging.outbox import queue_notification, withdraw_notifications
from avis.messaging.sms_encoding import gsm7_alternative
from avis.queue import Coalescing, wake
from avis.surveys.models import Answer, Response
from avis.surveys.signals import AnswerWrite

OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.CONTACTED, CaseStatus.REOPENED)
# How a customer can be contacted back; only these, so "do not call" cannot be dodged by
# recording a call under another name.
CONTACT_CHANNELS = ("phone", "sms", "email")
DEFAULT_SLA_HOURS = 8
WEBHOOK_MAX_ATTEMPTS = 6
WEBHOOK_LEASE = timedelta(minutes=2)
# Texts to the people handling cases wait for opening hours and never leave between 21:00 and
# 08:00 (organisation's time zone), except about a critical case: then a person is woken.
STAFF_SMS_EARLIEST = time(8)
STAFF_SMS_LATEST = time(21)

User = AbstractBaseUser


# ---------------------------------------------------------------- alert rules


def ensure_alert_rules(*, organisation: Organisation) -> list[AlertRule]:
    """The organisation's rules; the first call writes the defaults (NPS ≤ 6, not resolved),
    so they show in the editor and can be changed like any other rule."""
    rules = list(AlertRule.objects.filter(organisation=organisation))
    if rules:
        return rules
    # Named in the organisation's language: a rule's name is its own text from then on.
    with transaction.atomic(), translation.override(organisation.default_locale or "fr"):
        return [
            AlertRule.objects.create(organisation=organisation, **{**spec, "name": str(spec["name"])})  # type: ignore[arg-type]
            for spec in DEFAULT_RULES
        ]


# The rules every submit evaluates: read once per process and kept a few seconds (avis/kept.py).
_kept_alert_rules = KeptPerOrganisation(
    "alert-rules",
    lambda organisation: tuple(ensure_alert_rules(organisation=organisation)),
    models=[AlertRule],
)


def alert_rules_for(*, organisation: Organisation) -> list[AlertRule]:
    """``ensure_alert_rules``, from the process's cache when fresh."""
    return list(_kept_alert_rules(organisation))


_RULE_FIELDS = (
    "name",
    "condition",
    "threshold",
    "words",
    "window_days",
    "touchpoint",
    "survey",
    "severity",
    "is_active",
)


def _check_rule(rule: AlertRule) -> None:
    if rule.condition not in Condition.values:
        raise ValidationFailed(_("Choose a condition."), field="condition")
    scored = {Condition.DETRACTOR: 10, Condition.LOW_CSAT: 5, Condition.LOW_AGENT_SCORE: 10}
    if rule.threshold is not None and not -100 <= rule.threshold <= 100:
        raise ValidationFailed(_("Give a threshold from -100 to 100."), field="threshold")
    if rule.condition in scored:
        if rule.threshold is None or not 0 <= rule.threshold <= scored[rule.condition]:  # type: ignore[index]
            raise ValidationFailed(_("Give the highest score that opens a case."), field="threshold")
    if rule.condition == Condition.NEGATIVE_SENTIMENT and rule.threshold is not None:
        if not -100 <= rule.threshold <= 0:
            raise ValidationFailed(_("Give a sentiment threshold from -100 to 0."), field="threshold")
    if rule.condition == Condition.COMMENT_WORDS and not [w for w in rule.words if str(w).strip()]:
        raise ValidationFailed(_("Give at least one word."), field="words")
    if rule.severity not in Severity.values:
        raise ValidationFailed(_("Choose a severity."), field="severity")
    # Every rule keeps a window (a negative one once broke the date arithmetic of the whole list).
    if not 1 <= rule.window_days <= 365:
        raise ValidationFailed(_("Give a window of 1 to 365 days."), field="window_days")


def rule_changes(*, organisation: Organisation, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``touchpoint_id``/``survey_id`` from a form or the API into the organisation's rows."""
    from avis.interactions.models import Touchpoint
    from avis.surveys.models import Survey

    changes = dict(raw)
    for scoped, model in (("touchpoint", Touchpoint), ("survey", Survey)):
        if f"{scoped}_id" not in changes:
            continue
        target_id = changes.pop(f"{scoped}_id")
        target = None
        if target_id:
            target = model.objects.filter(organisation=organisation, id=target_id).first()
            if target is None:
                raise NotFound(_("No such %(what)s.") % {"what": scoped})
        changes[scoped] = target
    return changes


@transaction.atomic
def save_alert_rule(
    *, organisation: Organisation, changes: Mapping[str, Any], rule_id: int | None = None
) -> AlertRule:
    """Create a rule, or change one; a rule is switched off (``is_active``), never lost,
    so past cases keep the reason they were opened for."""
    if rule_id is None:
        ensure_alert_rules(organisation=organisation)
        rule = AlertRule(organisation=organisation)
    else:
        rule = AlertRule.objects.select_for_update().filter(organisation=organisation, id=rule_id).first()
        if rule is None:
            raise NotFound(_("No such rule."))
    before = snapshot(rule) if rule.pk else {}
    for name, value in changes.items():
        if name not in _RULE_FIELDS:
            raise ValidationFailed(_("Unknown field."), field=name)
        if name == "words" and isinstance(value, str):
            value = [w.strip() for w in value.split(",") if w.strip()]
        setattr(rule, name, value)
    _check_rule(rule)
    rule.save()
    record(
        organisation=organisation,
        action="alert_rule.changed" if before else "alert_rule.created",
        target=rule,
        before=before,
        after=snapshot(rule),
    )
    return rule


# ---------------------------------------------------------------- calendar & SLA


def calendar_of(*, organisation: Organisation) -> BusinessCalendar:
    calendar = BusinessCalendar.objects.filter(organisation=organisation).first()
    return calendar or BusinessCalendar(
        organisation=organisation, hours=DEFAULT_HOURS, sla_hours=DEFAULT_SLA_HOURS
    )


# Read by every case opened or escalated (each answer that opens one waits for it): kept a few seconds.
_kept_calendar = KeptPerOrganisation(
    "calendar", lambda organisation: calendar_of(organisation=organisation), models=[BusinessCalendar]
)


@transaction.atomic
def save_calendar(
    *, organisation: Organisation, hours: Mapping[str, Sequence[str]], sla_hours: int
) -> BusinessCalendar:
    for day, span in hours.items():
        if day not in {str(d) for d in range(7)} or len(span) != 2 or not span[0] < span[1]:
            raise ValidationFailed(_("Opening hours must be HH:MM–HH:MM, opening first."), field="hours")
    if not 1 <= sla_hours <= 24 * 30:
        raise ValidationFailed(_("Give an SLA of 1 to 720 open hours."), field="sla_hours")
    before = snapshot(BusinessCalendar.objects.filter(organisation=organisation).first())
    calendar, _created = BusinessCalendar.objects.update_or_create(
        organisation=organisation, defaults={"hours": dict(hours), "sla_hours": sla_hours}
    )
    record(
        organisation=organisation,
        action="calendar.changed",
        target=calendar,
        object_label="business calendar",
        before=before,
        after=snapshot(calendar),
    )
    return calendar


def deadline_from(*, organisation: Organisation, start: datetime) -> datetime:
    """When a case opened (or escalated) at ``start`` must have been handled: the SLA in open hours."""
    calendar = _kept_calendar(organisation)
    return add_business_hours(
        start,
        calendar.sla_hours,
        opening_hours=calendar.hours or DEFAULT_HOURS,
        country=organisation.default_region,
        time_zone=organisation.default_time_zone,
    )


# ---------------------------------------------------------------- assignment


def _owner_by(rule: AssignmentRule, case: Case, *, now: datetime, claim: bool) -> Any:
    team_id = rule.team_id or case.team_id
    if rule.strategy == Strategy.FALLBACK:
        return rule.user
    if team_id is None:
        return None
    role = {
        Strategy.TEAM_LEAD: OwnerRole.LEAD,
        Strategy.SITE_MANAGER: OwnerRole.MANAGER,
        Strategy.ROUND_ROBIN: OwnerRole.MEMBER,
    }[rule.strategy]  # type: ignore[index]
    owners = TeamOwner.objects.filter(organisation_id=case.organisation_id, team_id=team_id, role=role)
    if rule.strategy != Strategy.ROUND_ROBIN:
        owner = owners.select_related("user").order_by("id").first()
        return owner.user if owner else None
    # Round robin: the member whose last case is the oldest; the row lock makes two cases
    # opening at once go to two different members.
    owner = (
        owners.select_for_update()
        .select_related("user")
        .order_by(F("last_assigned_at").asc(nulls_first=True), "id")
        .first()
    )
    if owner is None:
        return None
    if claim:
        owner.last_assigned_at = now
        owner.save(update_fields=["last_assigned_at"])
    return owner.user


def _next_owner(case: Case, *, from_level: int, now: datetime) -> tuple[Any, int] | None:
    """The first owner the assignment ladder gives from ``from_level`` on, other than the current one."""
    rules = _kept_ladder(case.organisation)  # in the instance's cache wherever a case is assigned
    for level, rule in enumerate(rules):
        if level < from_level:
            continue
        user = _owner_by(rule, case, now=now, claim=True)
        if user is not None and user.pk != case.assigned_to_id:
            return user, level
    return None


# Read by every case opened (the answer waits for it) or escalated: kept a few seconds.
_kept_ladder = KeptPerOrganisation(
    "assignment-ladder",
    lambda organisation: tuple(
        AssignmentRule.objects.filter(organisation=organisation).select_related("user")
    ),
    models=[AssignmentRule],
)


@transaction.atomic
def save_assignment_rules(
    *, organisation: Organisation, steps: Sequence[Mapping[str, Any]]
) -> list[AssignmentRule]:
    """Replace the ladder: each step is ``{"strategy", "team_id"?, "user_id"?}``, first step first."""
    ladder = ("position", "strategy", "team_id", "user_id")
    before = list(
        AssignmentRule.objects.filter(organisation=organisation).order_by("position").values(*ladder)
    )
    AssignmentRule.objects.filter(organisation=organisation).delete()
    made = []
    for position, step in enumerate(steps, start=1):
        if step.get("strategy") not in Strategy.values:
            raise ValidationFailed(_("Choose how to assign."), field="strategy")
        if step["strategy"] == Strategy.FALLBACK and not step.get("user_id"):
            raise ValidationFailed(_("A fallback needs a person."), field="user_id")
        _check_team_and_member(organisation, step.get("team_id"), step.get("user_id"))
        made.append(
            AssignmentRule.objects.create(
                organisation=organisation,
                position=position,
                strategy=step["strategy"],
                team_id=step.get("team_id") or None,
                user_id=step.get("user_id") or None,
            )
        )
    record(
        organisation=organisation,
        action="assignment.changed",
        object_type="assignmentrule",
        object_label="assignment ladder",
        before={"steps": before},
        after={"steps": [snapshot(rule, fields=ladder) | {"position": rule.position} for rule in made]},
    )
    return made


def _check_team_and_member(organisation: Organisation, team_id: int | None, user_id: int | None) -> None:
    """Both belong to this organisation: an id from elsewhere is as good as unknown."""
    from avis.accounts.models import Membership
    from avis.interactions.models import Team

    if team_id and not Team.objects.filter(organisation=organisation, id=team_id).exists():
        raise NotFound(_("No such team."))
    if user_id and not Membership.objects.filter(organisation=organisation, user_id=user_id).exists():
        raise NotFound(_("No such person in this organisation."))


@transaction.atomic
def add_team_owner(*, organisation: Organisation, team_id: int, user: Any, role: str) -> TeamOwner:
    if role not in OwnerRole.values:
        raise ValidationFailed(_("Choose a role."), field="role")
    _check_team_and_member(organisation, team_id, user.pk)
    owner, created = TeamOwner.objects.get_or_create(
        organisation=organisation, team_id=team_id, user=user, role=role
    )
    if created:
        record(organisation=organisation, action="team_owner.added", target=owner, after=snapshot(owner))
    return owner


@transaction.atomic
def link_agent(*, organisation: Organisation, user: Any, agent_external_id: str) -> AgentLink:
    """Say which agent this user is, so the "my feedback" page shows their interactions."""
    from avis.interactions.models import Agent

    _check_team_and_member(organisation, None, user.pk)
    agent = Agent.objects.filter(organisation=organisation, external_id=agent_external_id).first()
    if agent is None:
        raise NotFound(_("No agent with this id."))
    link, _created = AgentLink.objects.update_or_create(
        organisation=organisation, user=user, defaults={"agent": agent}
    )
    record(organisation=organisation, action="agent.linked", target=link, after=snapshot(link))
    return link


# ---------------------------------------------------------------- opening cases


def _last_unhappy_at(response: Response) -> datetime | None:
    """When this customer last gave an answer that opened or joined a case."""
    return CaseEvent.objects.filter(
        organisation_id=response.organisation_id,
        case__customer_id=response.customer_id,
        kind__in=[EventKind.OPENED, EventKind.JOINED],
        at__lt=response.completed_at,
    ).aggregate(last=Max("at"))["last"]


def _callback_answer(answers: Sequence[Answer]) -> str | None:
    """The customer's yes/no to "may we call you back?", or None when not asked."""
    return next((a.choice for a in answers if a.question.code == CALLBACK_QUESTION and a.choice), None)


def case_of_response_storing(*, response: Response, answers: Sequence[Answer]) -> AnswerWrite | None:
    """A response about to be stored: if its answers meet an alert rule, its case is opened (or
    joined) once it is stored, in its transaction. The rules (cached) are evaluated on the answers
    in hand: a happy answer costs no statement here, and needs no transaction."""
    rules = alert_rules_for(organisation=response.organisation)
    if not matching_rules(rules, response, answers, last_unhappy_at=None):
        return None  # a repeat contact counts only with another rule met
    return AnswerWrite(then=lambda: open_case_for_response(response=response, answers=answers))


def open_case_for_response(*, response: Response, answers: Sequence[Answer] | None = None) -> Case | None:
    """Open a case when the response meets an alert rule — or add it to the customer's open
    case on the same subject (touchpoint), so one unhappy customer is one case.

    The rules (cached) are evaluated on ``answers`` (the submit's, in hand; read when not given):
    a happy answer costs no statement here."""
    if answers is None:
        answers = list(response.answers.select_related("question"))
    rules = alert_rules_for(organisation=response.organisation)
    if not matching_rules(rules, response, answers, last_unhappy_at=None):
        return None  # a repeat contact counts only with another rule met
    # Within the answer's transaction (no savepoint: a failure here fails the answer, as it should).
    with transaction.atomic(savepoint=False):
        # One customer answering twice at once: the second waits, then joins the first's case.
        _lock_customer(response.customer_id)
        # The customer's last unhappy answer matters only to a repeat-contact rule.
        repeat = any(rule.condition == Condition.REPEAT_CONTACT and rule.is_active for rule in rules)
        last = _last_unhappy_at(response) if repeat else None
        met = matching_rules(rules, response, answers, last_unhappy_at=last)
        reasons = list(dict.fromkeys(rule.condition for rule in met))
        severity = max(rule.severity for rule in met)
        callback = _callback_answer(answers)
        if connection.vendor == "postgresql":  # the open case looked up and the new one written at once
            case, case_id = _new_case_unless_open(response, reasons, severity, callback=callback)
        else:
            case, case_id = None, _open_case_of(response)
        if case_id is not None:  # rare: the ORM's full row, to join it
            case = Case.objects.select_for_update().get(id=case_id)
            return _join_case(case, response, reasons, severity, callback=callback)
        return case or _new_case(response, reasons, severity, callback=callback)


# The two reads of every answer that opens a case, written out (the ORM built each anew: a tenth of
# an unhappy answer's Python). A new statement each, so that the second, after waiting for the
# first's lock, sees what the customer's other answer committed meanwhile.
def _lock_customer(customer_id: int) -> None:
    with prepared_cursor(connection) as cursor:
        cursor.execute(_case_sql(connection.vendor)[0], [customer_id])


def _open_case_of(response: Response) -> int | None:
    """The customer's latest open case on the answer's touchpoint, locked."""
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            _case_sql(connection.vendor)[1],
            [response.organisation_id, response.customer_id, response.touchpoint_id, *OPEN_STATUSES],
        )
        found = cursor.fetchone()
    return found[0] if found else None


@lru_cache(maxsize=4)
def _case_sql(vendor: str) -> tuple[str, str]:
    quote = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    customers, cases = quote(Customer._meta.db_table), quote(Case._meta.db_table)
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    return (
        f"SELECT id FROM {customers} WHERE id = %s{lock}",  # noqa: S608 - names from the models
        f"SELECT id FROM {cases} WHERE organisation_id = %s AND customer_id = %s "  # noqa: S608
        f"AND touchpoint_id = %s AND status IN ({statuses}) ORDER BY opened_at DESC LIMIT 1{lock}",
    )


def _new_case(response: Response, reasons: list[str], severity: int, *, callback: str | None) -> Case:
    """The case, assigned, and its events, in two statements (``bulk.insert_rows``): the respondent
    waits for them. The owner is chosen before the case is written, so it is written once."""
    case, events = _case_rows(response, reasons, severity, callback=callback)
    insert_rows([case])
    insert_rows(events)
    _announce_later()
    return case


def _new_case_unless_open(
    response: Response, reasons: list[str], severity: int, *, callback: str | None
) -> tuple[Case | None, int | None]:
    """PostgreSQL: in one statement (``_new_case_sql``), the customer's open case on the answer's
    touchpoint looked up (locked), and only if there is none the new case and its events written
    — the statement after the customer's lock, so it sees a case the customer's other answer
    committed meanwhile. The new case, or the open one's key."""
    case, events = _case_rows(response, reasons, severity, callback=callback)
    case_fields, event_fields = _case_columns()
    params: list[object] = [
        response.organisation_id,
        response.customer_id,
        response.touchpoint_id,
        *OPEN_STATUSES,
    ]
    params += [bound_value(field, getattr(case, field.attname), connection) for field in case_fields]
    for event in events:
        params += [bound_value(field, getattr(event, field.attname), connection) for field in event_fields]
    with prepared_cursor(connection) as cursor:
        cursor.execute(_new_case_sql(len(events)), params)
        open_id, case_id, event_ids = cursor.fetchone()
    if open_id is not None:
        return None, open_id
    mark_inserted_with(case, case_id, events, event_ids, link="case_id", alias=connection.alias)
    _announce_later()
    return case, None


def _case_columns() -> tuple[list[Any], list[Any]]:
    """The case's columns but its key; its event's but its key and its case."""
    return columns_but_key(Case), columns_but_key(CaseEvent, "case")


@lru_cache(maxsize=4)
def _new_case_sql(events: int) -> str:
    quote = connection.ops.quote_name
    case_fields, event_fields = _case_columns()
    cases, noted = quote(Case._meta.db_table), quote(CaseEvent._meta.db_table)

    def typed(fields: list[Any]) -> str:
        return typed_params(fields, connection)

    def columns(fields: list[Any]) -> str:
        return column_names(fields, connection)

    row = f"({typed(event_fields)})"
    case_column = quote(CaseEvent._meta.get_field("case").column)
    # Only names from the models go into the text; every value is a parameter.
    return (
        f"WITH open AS ({_case_sql(connection.vendor)[1]}), "  # noqa: S608 - the customer's open case
        f"new AS (INSERT INTO {cases} ({columns(case_fields)}) SELECT {typed(case_fields)} "
        "WHERE NOT EXISTS (SELECT 1 FROM open) RETURNING id), "
        f"noted AS (INSERT INTO {noted} ({case_column}, {columns(event_fields)}) "
        "SELECT new.id, v.* FROM new, "
        f"(VALUES {', '.join([row] * events)}) AS v ({columns(event_fields)}) RETURNING id) "
        "SELECT (SELECT id FROM open), (SELECT id FROM new), (SELECT array_agg(id ORDER BY id) FROM noted)"
    )


def _case_rows(
    response: Response, reasons: list[str], severity: int, *, callback: str | None
) -> tuple[Case, list[CaseEvent]]:
    """The new case for the answer, its owner chosen, and its events (opened; assigned), unsaved."""
    organisation = response.organisation
    case = new_row(
        Case,
        organisation=organisation,
        response=response,
        customer_id=response.customer_id,
        interaction_id=response.interaction_id,
        touchpoint_id=response.touchpoint_id,
        agent_id=response.agent_id,
        team_id=response.team_id,
        reasons=reasons,
        severity=severity,
        do_not_call=callback == "no",
        opened_at=response.completed_at,
        due_at=deadline_from(organisation=organisation, start=response.completed_at),
    )
    found = _next_owner(case, from_level=0, now=case.opened_at)
    if found is not None:
        case.assigned_to, case.escalation_level = found

    def event(kind: str, **more: Any) -> CaseEvent:
        return new_row(CaseEvent, organisation=organisation, case=case, at=case.opened_at, kind=kind, **more)

    events = [event(EventKind.OPENED, response=response, to_announce=True)]
    if found is not None:
        events.append(event(EventKind.ASSIGNED, note=found[0].get_username()))
    return case, events


def _join_case(
    case: Case, response: Response, reasons: list[str], severity: int, *, callback: str | None
) -> Case:
    case.reasons = list(dict.fromkeys([*case.reasons, *reasons]))
    case.severity = max(case.severity, severity)
    if callback is not None:  # the latest word on being called back is the one that counts
        case.do_not_call = callback == "no"
    case.save(update_fields=["reasons", "severity", "do_not_call"])
    CaseEvent.objects.create(
        organisation_id=case.organisation_id,
        case=case,
        at=response.completed_at,
        kind=EventKind.JOINED,
        response=response,
        data={"reasons": reasons},
        to_announce=True,
    )
    _announce_later()
    return case


# What the worker announces of an event the respondent's request left to it.
ANNOUNCED = {EventKind.OPENED: "case.opened", EventKind.JOINED: "case.joined"}
ANNOUNCE_SWEEP_AFTER = timedelta(minutes=1)


def _announce_later() -> None:
    """The respondent waits for the case, not for telling people about it: the event is marked
    ``to_announce`` in the answer's transaction, and once it commits a worker is woken to announce
    what is waiting (``announce_waiting``); a burst of unhappy answers wakes it twice, not once each
    (``queue.Coalescing``). The minute's sweep finds what a lost wake-up left."""
    from huey.contrib.djhuey import HUEY

    from avis.cases.tasks import announce_waiting_case_events

    def enqueue(delay: float) -> object:
        return announce_waiting_case_events.schedule(delay=delay) if delay else announce_waiting_case_events()

    transaction.on_commit(
        lambda: announcement_wakes.wake(enqueue, what="a case announcement", inline=HUEY.immediate)
    )


# A burst of unhappy answers wakes the worker at its start, then twice a second at most. The run
# asked for at a window's end waits for the worker's scheduler too (a tick a second): a case of a
# burst is announced within about 1.5 s, the first at once.
announcement_wakes = Coalescing(window=0.5)
register(announcement_wakes)


def announce_case_event(*, event_id: int) -> bool:
    """Announce an answer's case opened or joined (``_announce``), once; False if it already was."""
    with transaction.atomic():
        event = (
            CaseEvent.objects.select_for_update()
            .select_related("case__organisation")
            .filter(id=event_id, to_announce=True)
            .first()
        )
        if event is None:
            return False
        _announce(event.case, ANNOUNCED[event.kind], at=event.at)
        CaseEvent.objects.filter(id=event.id).update(to_announce=False)
    return True


def sweep_announcements(*, now: datetime | None = None) -> int:
    """Announce the cases a lost wake-up (queue down, worker killed) left unannounced for a minute."""
    now = now or timezone.now()
    waiting = CaseEvent.objects.filter(to_announce=True, at__lte=now - ANNOUNCE_SWEEP_AFTER)
    return _announce_waiting(waiting, task="sweep_announcements")


def announce_waiting() -> int:
    """Announce every answer's case event waiting to be, oldest first: what a wake-up is for."""
    return _announce_waiting(CaseEvent.objects.filter(to_announce=True), task="announce_waiting")


def _announce_waiting(waiting: QuerySet[CaseEvent], *, task: str) -> int:
    count = 0
    for event_id, organisation_id in waiting.order_by("at", "id").values_list("id", "organisation_id")[:1000]:
        # One organisation's failing announcement is logged; the others' still go out.
        with apart(task, organisation_id):
            count += announce_case_event(event_id=event_id)
    return count


# ---------------------------------------------------------------- notifications


def case_payload(case: Case, event: str, *, at: datetime) -> dict[str, Any]:
    """What a CRM or chat tool receives: the event and the case, in plain JSON."""
    return {
        "event": event,
        "at": at.isoformat(),
        "case": {
            "id": case.id,
            "status": case.status,
            "severity": case.severity,
            "reasons": case.reasons,
            "customer": case.customer.external_id,
            "touchpoint": case.touchpoint.code,
            "agent": case.agent.external_id if case.agent_id else None,  # type: ignore[union-attr]
            "assigned_to": case.assigned_to.get_username() if case.assigned_to_id else None,  # type: ignore[union-attr]
            "opened_at": case.opened_at.isoformat(),
            "due_at": case.due_at.isoformat(),
            "outcome": case.outcome or None,
            "url": settings.AVIS_BASE_URL + reverse("cases:detail", args=[case.id]),
        },
    }


def _announce(case: Case, event: str, *, at: datetime) -> None:
    """Tell people (email the owner, or the managers when nobody owns it yet) and machines (webhooks)."""
    if event in ("case.opened", "case.escalated"):
        _email_owner_or_managers(case, event)
        _text_owner(case, event, at=at)
    endpoints = list(WebhookEndpoint.objects.filter(organisation_id=case.organisation_id, is_active=True))
    if endpoints:
        payload = case_payload(case, event, at=at)
        deliveries = [
            WebhookDelivery(
                organisation_id=case.organisation_id,
                endpoint=endpoint,
                case=case,
                event=event,
                key=f"case-{case.id}-{event}-{at.timestamp():.6f}"[:100],
                payload=payload,
                next_attempt_at=timezone.now(),
            )
            for endpoint in endpoints
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        ids = list(
            WebhookDelivery.objects.filter(
                organisation_id=case.organisation_id, key__in=[d.key for d in deliveries]
            ).values_list("id", flat=True)
        )
        transaction.on_commit(lambda: _queue_webhooks(ids))


def _queue_webhooks(ids: Sequence[int], *, delay: int = 0) -> None:
    from avis.cases.tasks import deliver_webhook

    for delivery_id in ids:
        if delay:
            sent = wake(
                lambda delivery_id=delivery_id: deliver_webhook.schedule(args=(delivery_id,), delay=delay),
                what="a case webhook",
            )
        else:
            sent = wake(lambda delivery_id=delivery_id: deliver_webhook(delivery_id), what="a case webhook")
        if not sent:
            return


def _email_owner_or_managers(case: Case, event: str) -> None:
    organisation = case.organisation
    owner_email = getattr(case.assigned_to, "email", "") if case.assigned_to_id else ""
    recipients = [owner_email] if owner_email else manager_emails(organisation=organisation)
    if not recipients:
        return
    context = {
        "case": case,
        "event": event,
        "link": settings.AVIS_BASE_URL + reverse("cases:detail", args=[case.id]),
        "answers": list(case.response.answers.select_related("question")),
        "touchpoint": case.touchpoint.label(organisation.default_locale),
    }
    with translation.override(organisation.default_locale), timezone.override(organisation.default_time_zone):
        if event == "case.escalated":
            subject = _("Escalated: case %(id)s (%(touchpoint)s) is past its deadline")
        else:
            subject = _("Unhappy customer: case %(id)s (%(touchpoint)s)")
        queue_notification(
            organisation=organisation,
            recipients=recipients,
            subject=subject % {"id": case.id, "touchpoint": context["touchpoint"]},
            text=render_to_string("cases/case_opened_email.txt", context),
            key=f"case-{case.id}-{event}-{case.escalation_level}",
        )


def staff_sms_time(*, organisation: Organisation, severity: int, at: datetime) -> datetime:
    """When a text about a case of this severity, raised at ``at``, may reach a member of staff."""
    if severity >= Severity.CRITICAL:
        return at
    calendar = calendar_of(organisation=organisation)
    return next_waking_open_moment(
        at,
        opening_hours=calendar.hours or DEFAULT_HOURS,
        country=organisation.default_region,
        time_zone=organisation.default_time_zone,
        earliest=STAFF_SMS_EARLIEST,
        latest=STAFF_SMS_LATEST,
    )


def owner_sms_text(case: Case, event: str) -> str:
    """One short text (a single SMS when it can): severity, who, the deadline and the link.

    The customer is named by first name when the organisation sends one (``first_name``
    attribute), else by their reference: enough to recognise, nothing more.
    """
    organisation = case.organisation
    due = timezone.localtime(case.due_at, ZoneInfo(organisation.default_time_zone))
    values = {
        "id": case.id,
        "severity": case.get_severity_display(),
        "customer": str(case.customer.attributes.get("first_name") or case.customer.external_id)[:40],
        "due": formats.date_format(due, "SHORT_DATETIME_FORMAT"),
        "link": settings.AVIS_BASE_URL + reverse("cases:detail", args=[case.id]),
    }
    if event == "case.escalated":
        text = _("avis: case %(id)s escalated to you (%(severity)s): %(customer)s, due %(due)s.") % values
    else:
        text = _("avis: new case %(id)s (%(severity)s): %(customer)s, due %(due)s.") % values
    if case.do_not_call:  # the owner may ring straight from the text: say so before they do
        text += " " + _("Do not call") + "."
    # A staff text is a work tool: "Zoë" as "Zoe" keeps it one GSM-7 segment instead of two UCS-2.
    return gsm7_alternative(f"{text} {values['link']}")


def _text_owner(case: Case, event: str, *, at: datetime) -> None:
    """SMS the person who now owns the case, if they gave a mobile and want texts about this;
    through the outbox (once per case, event and level; rate-limited and retried like any
    message), and on the timeline."""
    if not case.assigned_to_id:
        return
    phone = sms_number_for(
        organisation_id=case.organisation_id,
        user_id=case.assigned_to_id,
        escalation=event == "case.escalated",
    )
    if not phone:
        return
    organisation = case.organisation
    with translation.override(organisation.default_locale):
        text = owner_sms_text(case, event)
    send_at = staff_sms_time(organisation=organisation, severity=case.severity, at=at)
    (message,) = queue_notification(
        organisation=organisation,
        recipients=[phone],
        subject="",
        text=text,
        key=f"case-{case.id}-{event}-{case.escalation_level}-sms",
        channel=Channel.SMS,
        not_before=send_at,
    )
    if not CaseEvent.objects.filter(case=case, kind=EventKind.NOTIFIED, data__message_id=message.id).exists():
        _event(
            case,
            EventKind.NOTIFIED,
            None,
            at=at,
            note=case.assigned_to.get_username(),  # type: ignore[union-attr]
            channel=Channel.SMS,
            phone=phone,
            message_id=message.id,
        )


def _withdraw_waiting_texts(case: Case, reason: str) -> None:
    """A text still waiting for the morning is moot once somebody acts on the case."""
    ids = [
        message_id
        for message_id in CaseEvent.objects.filter(
            case=case, kind=EventKind.NOTIFIED, data__channel=Channel.SMS
        ).values_list("data__message_id", flat=True)
        if message_id
    ]
    if ids:
        withdraw_notifications(organisation=case.organisation, message_ids=ids, reason=reason)


def webhook_retry_delay(attempts: int) -> int:
    """Seconds before try ``attempts + 1``: base, 2×base, 4×base … (base from settings)."""
    base = settings.AVIS_WEBHOOK_RETRY_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), 3600)


def deliver_webhook(*, delivery_id: int, now: datetime | None = None) -> str:
    """One try at one delivery; logs the try, and says whether to retry."""
    now = now or timezone.now()
    # Claim the row for a lease: a second worker woken for the same delivery finds nothing to do.
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + WEBHOOK_LEASE)
    if not claimed:
        return "not_mine"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(id=delivery_id)
    result = webhooks.post(delivery.endpoint.url, delivery.endpoint.secret, delivery.payload, delivery.key)
    attempts = delivery.attempts + 1
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=result.status_code,
            error=result.error[:300],
            duration_ms=result.duration_ms,
        )
        fields: dict[str, Any] = {"attempts": attempts}
        if result.ok:
            fields.update(status=DeliveryStatus.DELIVERED, delivered_at=timezone.now())
            outcome = "delivered"
        elif result.final or attempts >= WEBHOOK_MAX_ATTEMPTS:
            fields.update(status=DeliveryStatus.FAILED)
            outcome = "failed"
        else:
            delay = webhook_retry_delay(attempts)
            fields.update(next_attempt_at=now + timedelta(seconds=delay))
            outcome = "retry"
            transaction.on_commit(lambda: _queue_webhooks([delivery_id], delay=delay))
        WebhookDelivery.objects.filter(id=delivery_id).update(**fields)
    return outcome


def sweep_webhooks(*, now: datetime | None = None) -> int:
    """Requeue deliveries whose worker died or whose wake-up was lost."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).values_list(
            "id", flat=True
        )[:1000]
    )
    _queue_webhooks(ids)
    return len(ids)


@transaction.atomic
def add_webhook_endpoint(*, organisation: Organisation, url: str, secret: str = "") -> WebhookEndpoint:
    import secrets as random

    if not url.startswith(("http://", "https://")) or len(url) > 500:
        raise ValidationFailed(_("Give an http(s) address."), field="url")
    try:
        webhooks.check_url(url)
    except webhooks.Refused as exc:
        raise ValidationFailed(
            _("This address is not public (%(why)s): avis calls only public addresses.") % {"why": exc},
            field="url",
        ) from exc
    endpoint = WebhookEndpoint.objects.create(
        organisation=organisation, url=url, secret=secret or random.token_urlsafe(32)
    )
    record(organisation=organisation, action="case_webhook.added", target=endpoint, after=snapshot(endpoint))
    return endpoint


# ---------------------------------------------------------------- handling a case


def _case_for_update(organisation: Organisation, case_id: int) -> Case:
    # Two managers clicking at once: the second waits and sees the first's change.
    case = Case.objects.select_for_update().filter(organisation=organisation, id=case_id).first()
    if case is None:
        raise NotFound(_("No such case."))
    return case


def _event(
    case: Case, kind: str, user: Any, *, at: datetime | None = None, note: str = "", **data: Any
) -> CaseEvent:
    return CaseEvent.objects.create(
        organisation_id=case.organisation_id,
        case=case,
        actor=user if getattr(user, "is_authenticated", False) else None,
        at=at or timezone.now(),
        kind=kind,
        note=note,
        data=data,
    )


@transaction.atomic
def take_case(*, organisation: Organisation, case_id: int, user: User | None) -> Case:
    case = _case_for_update(organisation, case_id)
    if not case.is_open:
        raise ValidationFailed(_("This case is already closed."))
    case.assigned_to = user  # type: ignore[assignment]
    if case.status in (CaseStatus.NEW, CaseStatus.REOPENED):
        case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["assigned_to", "status"])
    _event(case, EventKind.TAKEN, user)
    _withdraw_waiting_texts(case, "case taken")
    return case


@transaction.atomic
def mark_customer_contacted(
    *,
    organisation: Organisation,
    case_id: int,
    user: User | None,
    note: str = "",
    channel: str = "phone",
    at: datetime | None = None,
) -> Case:
    """Record the call-back; a customer who said "do not call me" is not called."""
    case = _case_for_update(organisation, case_id)
    if not case.is_open:
        raise ValidationFailed(_("This case is already closed."))
    if channel not in CONTACT_CHANNELS:
        raise ValidationFailed(_("Say how the customer was contacted: phone, sms or email."), field="channel")
    if case.do_not_call and channel == "phone":
        raise ValidationFailed(_("The customer asked not to be called back."), field="channel")
    at = at or timezone.now()
    case.status = CaseStatus.CONTACTED
    case.first_contact_at = case.first_contact_at or at
    if case.assigned_to_id is None:
        case.assigned_to = user  # type: ignore[assignment]
    case.save(update_fields=["status", "first_contact_at", "assigned_to"])
    _event(case, EventKind.CONTACTED, user, at=at, note=note, channel=channel)
    _withdraw_waiting_texts(case, "customer contacted")
    _announce(case, "case.contacted", at=at)
    return case


@transaction.atomic
def resolve_case(
    *,
    organisation: Organisation,
    case_id: int,
    user: User | None,
    outcome: str,
    note: str = "",
    root_cause_id: int | None = None,
    at: datetime | None = None,
) -> Case:
    if outcome not in CaseOutcome.values:
        raise ValidationFailed(_("Choose an outcome."), field="outcome")
    case = _case_for_update(organisation, case_id)
    if not case.is_open:
        raise ValidationFailed(_("This case is already closed."))
    at = at or timezone.now()
    if root_cause_id:
        _set_root_cause(case, root_cause_id, user, at=at)
    case.status = CaseStatus.RESOLVED
    case.outcome = outcome
    case.closed_at = at
    case.save(update_fields=["status", "outcome", "closed_at", "root_cause"])
    _event(case, EventKind.RESOLVED, user, at=at, note=note, outcome=outcome)
    _withdraw_waiting_texts(case, "case resolved")
    _announce(case, "case.resolved", at=at)
    return case


@transaction.atomic
def close_case(*, organisation: Organisation, case_id: int, user: User | None, note: str = "") -> Case:
    """Resolved → closed: nothing more to do, the case leaves every list of work."""
    case = _case_for_update(organisation, case_id)
    if case.status != CaseStatus.RESOLVED:
        raise ValidationFailed(_("Only a resolved case can be closed."))
    case.status = CaseStatus.CLOSED
    case.save(update_fields=["status"])
    _event(case, EventKind.CLOSED, user, note=note)
    _announce(case, "case.closed", at=timezone.now())
    return case


@transaction.atomic
def reopen_case(
    *,
    organisation: Organisation,
    case_id: int,
    user: User | None,
    note: str = "",
    now: datetime | None = None,
) -> Case:
    """The customer calls again, or the fix did not hold: the case comes back with a fresh deadline."""
    now = now or timezone.now()
    case = _case_for_update(organisation, case_id)
    if case.is_open:
        raise ValidationFailed(_("This case is still open."))
    case.status = CaseStatus.REOPENED
    case.outcome = ""
    case.closed_at = None
    case.due_at = deadline_from(organisation=organisation, start=now)
    case.save(update_fields=["status", "outcome", "closed_at", "due_at"])
    _event(case, EventKind.REOPENED, user, at=now, note=note)
    _announce(case, "case.reopened", at=now)
    return case


def _set_root_cause(case: Case, root_cause_id: int, user: Any, *, at: datetime | None = None) -> None:
    cause = RootCause.objects.filter(organisation_id=case.organisation_id, id=root_cause_id).first()
    if cause is None:
        raise NotFound(_("No such root cause."))
    if case.root_cause_id != cause.id:
        case.root_cause = cause
        _event(case, EventKind.ROOT_CAUSE, user, at=at, note=cause.label)


@transaction.atomic
def set_root_cause(
    *, organisation: Organisation, case_id: int, user: User | None, root_cause_id: int
) -> Case:
    case = _case_for_update(organisation, case_id)
    _set_root_cause(case, root_cause_id, user)
    case.save(update_fields=["root_cause"])
    return case


@transaction.atomic
def save_root_cause(
    *, organisation: Organisation, label: str, root_cause_id: int | None = None, is_active: bool = True
) -> RootCause:
    label = label.strip()
    if not label:
        raise ValidationFailed(_("Give the category a name."), field="label")
    if root_cause_id is None:
        cause, _created = RootCause.objects.get_or_create(organisation=organisation, label=label)
    else:
        cause = RootCause.objects.filter(organisation=organisation, id=root_cause_id).first()
        if cause is None:
            raise NotFound(_("No such root cause."))
    before = snapshot(cause) if root_cause_id is not None else {}
    cause.label = label
    cause.is_active = is_active
    cause.save()
    record(
        organisation=organisation,
        action="root_cause.saved",
        target=cause,
        before=before,
        after=snapshot(cause),
    )
    return cause


@transaction.atomic
def add_case_note(*, organisation: Organisation, case_id: int, user: User | None, note: str) -> CaseEvent:
    if not note.strip():
        raise ValidationFailed(_("A note cannot be empty."), field="note")
    case = _case_for_update(organisation, case_id)
    return _event(case, EventKind.NOTE, user, note=note.strip())


# ---------------------------------------------------------------- escalation


def escalate_overdue_cases(*, now: datetime | None = None) -> int:
    """Every open case past its deadline goes one step up the assignment ladder, with a new
    deadline counted from now; each case in its own transaction so one failure stops nothing."""
    now = now or timezone.now()
    due = list(
        Case.objects.filter(status__in=OPEN_STATUSES, due_at__lte=now, first_contact_at__isnull=True)
        .order_by("due_at", "id")
        .values_list("id", "organisation_id")[:500]
    )
    count = 0
    for case_id, organisation_id in due:
        # One organisation's broken ladder is logged; the other organisations' cases still go up.
        with apart("escalate_overdue_cases", organisation_id), transaction.atomic():
            case = (
                Case.objects.select_for_update()
                .select_related("organisation")
                .filter(id=case_id, due_at__lte=now, first_contact_at__isnull=True)
                .first()
            )
            if case is None or not case.is_open:  # handled meanwhile by someone else
                continue
            _escalate(case, now=now)
            count += 1
    return count


def _escalate(case: Case, *, now: datetime) -> None:
    previous = case.assigned_to.get_username() if case.assigned_to_id else ""  # type: ignore[union-attr]
    _withdraw_waiting_texts(case, "case escalated")
    found = _next_owner(case, from_level=case.escalation_level + 1, now=now)
    if found is not None:
        case.assigned_to, case.escalation_level = found
    else:
        case.escalation_level += 1
    case.due_at = deadline_from(organisation=case.organisation, start=now)
    case.save(update_fields=["assigned_to", "escalation_level", "due_at"])
    _event(
        case,
        EventKind.ESCALATED,
        None,
        at=now,
        note=case.assigned_to.get_username() if case.assigned_to_id else "",  # type: ignore[union-attr]
        previous=previous,
        level=case.escalation_level,
    )
    _announce(case, "case.escalated", at=now)
