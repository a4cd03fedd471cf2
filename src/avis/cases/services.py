from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.accounts.queries import manager_emails
from avis.cases.models import Case, CaseEvent, CaseOutcome, CaseStatus
from avis.errors import NotFound, ValidationFailed
from avis.messaging.services import queue_notification
from avis.surveys.models import Response

DETRACTOR_MAX = 6
CASE_SLA = timedelta(hours=24)


def reasons_to_follow_up(response: Response) -> list[str]:
    """Why this response needs a person: a detractor score, or a problem not resolved."""
    reasons = []
    for answer in response.answers.all():
        if answer.kind == "nps" and answer.number is not None and answer.number <= DETRACTOR_MAX:
            reasons.append("detractor")
        if answer.attribution == "resolution" and answer.choice == "no":
            reasons.append("not_resolved")
    return reasons


@transaction.atomic
def open_case_for_response(*, response: Response) -> Case | None:
    reasons = reasons_to_follow_up(response)
    if not reasons:
        return None
    case, created = Case.objects.get_or_create(
        response=response,
        defaults={
            "organisation_id": response.organisation_id,
            "customer_id": response.customer_id,
            "interaction_id": response.interaction_id,
            "touchpoint_id": response.touchpoint_id,
            "agent_id": response.agent_id,
            "team_id": response.team_id,
            "reasons": reasons,
            "opened_at": response.completed_at,
            "due_at": response.completed_at + CASE_SLA,
        },
    )
    if created:
        CaseEvent.objects.create(
            organisation_id=case.organisation_id, case=case, at=case.opened_at, kind="opened"
        )
        _notify_managers(case)
    return case


def _notify_managers(case: Case) -> None:
    organisation = case.organisation
    recipients = manager_emails(organisation=organisation)
    if not recipients:
        return
    from django.conf import settings
    from django.urls import reverse

    context = {
        "case": case,
        "link": settings.AVIS_BASE_URL + reverse("cases:detail", args=[case.id]),
        "answers": list(case.response.answers.select_related("question")),
        "touchpoint": case.touchpoint.label(organisation.default_locale),
    }
    with translation.override(organisation.default_locale):
        queue_notification(
            organisation=organisation,
            recipients=recipients,
            subject=_("Unhappy customer: case %(id)s (%(touchpoint)s)")
            % {"id": case.id, "touchpoint": context["touchpoint"]},
            text=render_to_string("cases/case_opened_email.txt", context),
            key=f"case-{case.id}-opened",
        )


def _case_for_update(organisation: Organisation, case_id: int) -> Case:
    # Two managers clicking at once: the second waits and sees the first's change.
    case = Case.objects.select_for_update().filter(organisation=organisation, id=case_id).first()
    if case is None:
        raise NotFound("No such case.")
    return case


@transaction.atomic
def take_case(*, organisation: Organisation, case_id: int, user: AbstractBaseUser | None) -> Case:
    case = _case_for_update(organisation, case_id)
    case.assigned_to = user  # type: ignore[assignment]
    if case.status == CaseStatus.NEW:
        case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["assigned_to", "status"])
    CaseEvent.objects.create(organisation=organisation, case=case, actor=user, kind="taken")
    return case


@transaction.atomic
def mark_customer_contacted(
    *,
    organisation: Organisation,
    case_id: int,
    user: AbstractBaseUser | None,
    note: str = "",
    at: datetime | None = None,
) -> Case:
    case = _case_for_update(organisation, case_id)
    if not case.is_open:
        raise ValidationFailed(_("This case is already closed."))
    at = at or timezone.now()
    case.status = CaseStatus.CONTACTED
    case.first_contact_at = case.first_contact_at or at
    if case.assigned_to_id is None:
        case.assigned_to = user  # type: ignore[assignment]
    case.save(update_fields=["status", "first_contact_at", "assigned_to"])
    CaseEvent.objects.create(
        organisation=organisation, case=case, actor=user, at=at, kind="contacted", note=note
    )
    return case


@transaction.atomic
def resolve_case(
    *, organisation: Organisation, case_id: int, user: AbstractBaseUser | None, outcome: str, note: str = ""
) -> Case:
    if outcome not in CaseOutcome.values:
        raise ValidationFailed(_("Choose an outcome."), field="outcome")
    case = _case_for_update(organisation, case_id)
    case.status = CaseStatus.RESOLVED
    case.outcome = outcome
    case.closed_at = timezone.now()
    case.save(update_fields=["status", "outcome", "closed_at"])
    CaseEvent.objects.create(organisation=organisation, case=case, actor=user, kind="resolved", note=note)
    return case


@transaction.atomic
def add_case_note(
    *, organisation: Organisation, case_id: int, user: AbstractBaseUser | None, note: str
) -> CaseEvent:
    if not note.strip():
        raise ValidationFailed(_("A note cannot be empty."), field="note")
    case = _case_for_update(organisation, case_id)
    return CaseEvent.objects.create(
        organisation=organisation, case=case, actor=user, kind="note", note=note.strip()
    )
