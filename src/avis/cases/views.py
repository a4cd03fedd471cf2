from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.cases import services
from avis.cases.models import CaseOutcome, CaseStatus
from avis.cases.queries import case_detail, cases_of
from avis.errors import ValidationFailed
from avis.surveys.queries import readable_answers


def _listing(request: HttpRequest) -> dict[str, object]:
    status = request.GET.get("status") or None
    cases = cases_of(organisation=request.organisation, status=status, open_only=status is None)  # type: ignore[attr-defined]
    return {"cases": cases[:200], "status": status or "", "statuses": CaseStatus.choices}


@login_required
@member_required()
def case_list(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/list.html", _listing(request))


@login_required
@member_required()
def case_rows(request: HttpRequest) -> HttpResponse:
    """The table body alone, polled by htmx so a new case shows up without a reload."""
    return render(request, "cases/_rows.html", _listing(request))


@login_required
@member_required()
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_detail(organisation=request.organisation, case_id=case_id)  # type: ignore[attr-defined]
    answers = readable_answers(
        list(case.response.answers.all()),
        get_language(),
        company=request.organisation.name,  # type: ignore[attr-defined]
    )
    return render(
        request, "cases/detail.html", {"case": case, "answers": answers, "outcomes": CaseOutcome.choices}
    )


def _act(request: HttpRequest, case_id: int, action, **extra: object) -> HttpResponse:  # noqa: ANN001
    try:
        action(organisation=request.organisation, case_id=case_id, user=request.user, **extra)  # type: ignore[attr-defined]
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    return redirect("cases:detail", case_id=case_id)


@login_required
@member_required()
@require_POST
def take(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.take_case)


@login_required
@member_required()
@require_POST
def contacted(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.mark_customer_contacted, note=request.POST.get("note", ""))


@login_required
@member_required()
@require_POST
def resolve(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        case_id,
        services.resolve_case,
        outcome=request.POST.get("outcome", ""),
        note=request.POST.get("note", ""),
    )
