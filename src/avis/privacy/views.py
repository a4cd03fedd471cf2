"""The privacy pages (admins only): the retention policy and its reports, one customer's export
as a page or a JSON file, and their erasure."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.errors import NotFound, ValidationFailed
from avis.privacy import services
from avis.privacy.queries import recent_runs


def _months(request: HttpRequest, field: str) -> int:
    text = request.POST.get(field, "").strip()
    if not text.isdigit() or len(text) > 4:
        raise ValidationFailed(_("A duration is a whole number of months from 1 to 120."), field=field)
    return int(text)


@login_required
@member_required(Role.ADMIN)
def privacy(request: HttpRequest) -> HttpResponse:
    """The retention policy (editable), the reports of its last runs, and a search by customer id."""
    organisation = request.organisation  # type: ignore[attr-defined]
    problem: ValidationFailed | None = None
    if request.method == "POST":
        try:
            services.update_retention_policy(
                organisation=organisation,
                is_active=request.POST.get("is_active") == "on",
                comment_months=_months(request, "comment_months"),
                message_months=_months(request, "message_months"),
                inactive_customer_months=_months(request, "inactive_customer_months"),
                user=request.user,
            )
        except ValidationFailed as exc:
            problem = exc
        else:
            messages.success(request, _("Retention policy saved."))
            return redirect("privacy:settings")
    return render(
        request,
        "privacy/settings.html",
        {
            "policy": services.retention_policy(organisation=organisation),
            "runs": recent_runs(organisation=organisation),
            "problem": problem,
            "posted": request.POST if problem else None,
        },
        status=422 if problem else 200,
    )


@login_required
@member_required(Role.ADMIN)
def customer(request: HttpRequest) -> HttpResponse:
    """One customer's export, read as a page or downloaded (``format=json``); the id is a query
    parameter so that any id works, slashes included."""
    organisation = request.organisation  # type: ignore[attr-defined]
    external_id = request.GET.get("id", "").strip()
    if not external_id:
        return redirect("privacy:settings")
    try:
        data = services.export_customer(
            organisation=organisation, external_id=external_id, actor=request.user, via="page"
        )
    except NotFound:
        return render(request, "privacy/customer_missing.html", {"external_id": external_id}, status=404)
    if request.GET.get("format") == "json":
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="customer-export.json"'
        return response
    return render(request, "privacy/customer.html", {"data": data, "external_id": external_id})


@login_required
@member_required(Role.ADMIN)
@require_POST
def erase(request: HttpRequest) -> HttpResponse:
    """Erase one customer; the admin types the id again, since there is no undo."""
    organisation = request.organisation  # type: ignore[attr-defined]
    external_id = request.POST.get("id", "")
    if request.POST.get("confirm", "") != external_id:
        messages.error(request, _("Type the customer's id again to confirm the erasure."))
        return redirect(reverse("privacy:customer") + "?" + urlencode({"id": external_id}))
    services.erase_customer(
        organisation=organisation, external_id=external_id, actor=request.user, via="page"
    )
    messages.success(request, _("The customer was erased everywhere; the figures stay as they were."))
    return redirect("privacy:settings")
