"""The touchpoint pages: list and create, then each one's names, archiving and ways in."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.errors import FieldsInvalid, ValidationFailed
from avis.interactions.intake import csv_template, curl_example, signed_example, webhook_url
from avis.interactions.queries import touchpoint_of, touchpoints
from avis.interactions.services import (
    TOUCHPOINT_EDITORS,
    create_touchpoint,
    inbound_webhook,
    rotate_webhook_secret,
    update_touchpoint,
)
from avis.surveys.queries import active_surveys_by_touchpoint

NAME_FIELDS = ("name_fr", "name_en")


def _problems(exc: ValidationFailed) -> dict[str, str]:
    """Each wrong field's reason, keyed as the form names its inputs (``name.fr`` is ``name_fr``)."""
    problems = exc.problems if isinstance(exc, FieldsInvalid) else {exc.field or "code": exc.message}
    return {field.replace(".", "_"): message for field, message in problems.items()}


def _may_edit(request: HttpRequest) -> bool:
    return request.membership.role in TOUCHPOINT_EDITORS  # type: ignore[attr-defined]


@login_required
@member_required()
def touchpoint_list(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    given: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not _may_edit(request):
            return HttpResponseForbidden(_("Only an admin may create touchpoints."))
        given = {name: request.POST.get(name, "") for name in ("code", *NAME_FIELDS)}
        try:
            touchpoint = create_touchpoint(
                organisation=organisation,
                code=given["code"],
                name_fr=given["name_fr"],
                name_en=given["name_en"],
            )
        except ValidationFailed as exc:
            errors = _problems(exc)
        else:
            messages.success(request, _("Touchpoint created: it takes interactions now."))
            return redirect("touchpoints:detail", code=touchpoint.code)
    surveys = active_surveys_by_touchpoint(organisation=organisation)
    language = get_language() or "en"
    rows = [(tp, tp.label(language[:2]), surveys.get(tp.id)) for tp in touchpoints(organisation=organisation)]
    return render(
        request,
        "interactions/touchpoints.html",
        {"rows": rows, "given": given, "errors": errors, "may_edit": _may_edit(request)},
        status=422 if errors else 200,
    )


@login_required
@member_required()
def touchpoint_detail(request: HttpRequest, code: str) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    touchpoint = touchpoint_of(organisation=organisation, code=code)
    names = {"name_fr": touchpoint.name.get("fr", ""), "name_en": touchpoint.name.get("en", "")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not _may_edit(request):
            return HttpResponseForbidden(_("Only an admin may change touchpoints."))
        action = request.POST.get("action", "")
        names = {name: request.POST.get(name, "") for name in NAME_FIELDS} if action == "rename" else names
        try:
            if action == "rename":
                update_touchpoint(
                    organisation=organisation,
                    code=code,
                    names={"fr": names["name_fr"], "en": names["name_en"]},
                )
                messages.success(request, _("Names saved."))
            elif action in ("archive", "restore"):
                update_touchpoint(organisation=organisation, code=code, archived=action == "archive")
                messages.success(
                    request,
                    _("Archived: new interactions are refused; history and figures stay.")
                    if action == "archive"
                    else _("Restored: the touchpoint takes interactions again."),
                )
        except ValidationFailed as exc:
            errors = _problems(exc)
        else:
            return redirect("touchpoints:detail", code=code)
    now = timezone.now()
    # The secret is an admin's to see; others learn that the webhook exists and whom to ask.
    webhook = inbound_webhook(organisation=organisation) if _may_edit(request) else None
    url = webhook_url(webhook) if webhook else ""
    return render(
        request,
        "interactions/touchpoint.html",
        {
            "touchpoint": touchpoint,
            "label": touchpoint.label((get_language() or "en")[:2]),
            "names": names,
            "errors": errors,
            "may_edit": _may_edit(request),
            "survey": active_surveys_by_touchpoint(organisation=organisation).get(touchpoint.id),
            "curl": curl_example(touchpoint=touchpoint, now=now),
            "webhook": webhook,
            "webhook_url": url,
            "signed_example": signed_example(touchpoint=touchpoint, url=url, now=now) if webhook else "",
        },
        status=422 if errors else 200,
    )


@login_required
@member_required()
def template_csv(request: HttpRequest, code: str) -> HttpResponse:
    """A file of past interactions to fill in, with this touchpoint's code in its example row."""
    touchpoint = touchpoint_of(organisation=request.organisation, code=code)  # type: ignore[attr-defined]
    response = HttpResponse(
        csv_template(touchpoint=touchpoint, now=timezone.now()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="interactions-{touchpoint.code}.csv"'
    return response


@login_required
@member_required(*TOUCHPOINT_EDITORS)
@require_POST
def rotate_secret(request: HttpRequest) -> HttpResponse:
    rotate_webhook_secret(organisation=request.organisation)  # type: ignore[attr-defined]
    messages.success(request, _("New secret made. The previous one still signs for 24 hours."))
    return redirect(request.POST.get("next") or "touchpoints:list")
