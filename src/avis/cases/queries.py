from __future__ import annotations

from django.db.models import QuerySet

from avis.accounts.models import Organisation
from avis.cases.models import Case
from avis.errors import NotFound


def cases_of(
    *, organisation: Organisation, status: str | None = None, open_only: bool = False
) -> QuerySet[Case]:
    cases = Case.objects.filter(organisation=organisation).select_related(
        "customer", "touchpoint", "agent", "team", "assigned_to", "response"
    )
    if status:
        cases = cases.filter(status=status)
    if open_only:
        cases = cases.exclude(status__in=["resolved", "closed"])
    return cases.order_by("-opened_at", "-id")


def case_detail(*, organisation: Organisation, case_id: int) -> Case:
    case = (
        cases_of(organisation=organisation)
        .prefetch_related("events__actor", "response__answers__question")
        .filter(id=case_id)
        .first()
    )
    if case is None:
        raise NotFound("No such case.")
    return case
