from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.accounts.models import Membership, Role
from avis.accounts.queries import api_keys_of, member_of, members_of
from avis.accounts.services import create_api_key, revoke_api_key, update_notification_settings
from avis.errors import ValidationFailed


@login_required
@member_required(Role.ADMIN)
def api_keys(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    plaintext = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip() or "API key"
        _, plaintext = create_api_key(organisation=organisation, name=name[:100], created_by=request.user)
    return render(
        request,
        "accounts/api_keys.html",
        {"keys": api_keys_of(organisation=organisation), "plaintext": plaintext},
    )


@login_required
@member_required(Role.ADMIN)
@require_POST
def revoke_key(request: HttpRequest, key_id: int) -> HttpResponse:
    revoke_api_key(organisation=request.organisation, key_id=key_id)  # type: ignore[attr-defined]
    return redirect("api_keys")


def _notification_form(request: HttpRequest, membership: Membership, *, template: str) -> HttpResponse:
    """Show or save a member's mobile and SMS choices; a refused number stays, with its error."""
    errors: dict[str, str] = {}
    phone = membership.mobile_phone
    if request.method == "POST":
        phone = request.POST.get("mobile_phone", "")
        try:
            update_notification_settings(
                organisation=request.organisation,  # type: ignore[attr-defined]
                membership_id=membership.id,
                mobile_phone=phone,
                sms_when_assigned=request.POST.get("sms_when_assigned") == "on",
                sms_when_escalated=request.POST.get("sms_when_escalated") == "on",
            )
        except ValidationFailed as exc:
            errors[exc.field or "mobile_phone"] = exc.message
        else:
            messages.success(request, _("Saved."))
            return redirect(request.path)
    return render(request, template, {"member": membership, "phone": phone, "errors": errors})


@login_required
@member_required()
def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own mobile and SMS choices, in the current organisation."""
    return _notification_form(request, request.membership, template="accounts/profile.html")  # type: ignore[attr-defined]


@login_required
@member_required(Role.ADMIN)
def people(request: HttpRequest) -> HttpResponse:
    members = members_of(organisation=request.organisation)  # type: ignore[attr-defined]
    return render(request, "accounts/people.html", {"members": members})


@login_required
@member_required(Role.ADMIN)
def person(request: HttpRequest, membership_id: int) -> HttpResponse:
    """An administrator sets a member's mobile and SMS choices (someone without a screen to hand)."""
    membership = member_of(organisation=request.organisation, membership_id=membership_id)  # type: ignore[attr-defined]
    return _notification_form(request, membership, template="accounts/person.html")
