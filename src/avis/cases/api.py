from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema

from avis.api import organisation_of
from avis.cases import services
from avis.cases.models import Case
from avis.cases.queries import case_detail, cases_of

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


class CaseDetailOut(CaseOut):
    answers: list[AnswerOut]


class CasePatch(Schema):
    status: Literal["contacted", "resolved"] | None = None
    outcome: str | None = None
    note: str | None = None


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
    return CaseDetailOut(answers=answers, **CaseOut.of(case).dict())


@router.patch("/{case_id}", response=CaseOut)
def patch_case(request: HttpRequest, case_id: int, payload: CasePatch) -> CaseOut:
    """Record a call-back (`contacted`) or close the loop (`resolved` with an outcome); add a note."""
    organisation = organisation_of(request)
    user = request.user if request.user.is_authenticated else None
    if payload.note and not payload.status:
        services.add_case_note(organisation=organisation, case_id=case_id, user=user, note=payload.note)
    if payload.status == "contacted":
        services.mark_customer_contacted(
            organisation=organisation, case_id=case_id, user=user, note=payload.note or ""
        )
    elif payload.status == "resolved":
        services.resolve_case(
            organisation=organisation,
            case_id=case_id,
            user=user,
            outcome=payload.outcome or "",
            note=payload.note or "",
        )
    return CaseOut.of(case_detail(organisation=organisation, case_id=case_id))
