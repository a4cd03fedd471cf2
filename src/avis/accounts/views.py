from __future__ import annotations

import base64
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from avis.accounts.decorators import member_required
from avis.accounts.middleware import SESSION_KEY
from avis.accounts.models import Membership, Role, Scope
from avis.accounts.queries import api_keys_of, member_of, members_of, pending_invitations, signs_in_already
from avis.accounts.services import (
    InvitationUnusable,
    accept_invitation,
    change_member_role,
    confirm_two_factor,
    confirmed_device,
    create_api_key,
    disable_two_factor,
    invite_member,
    qr_code_svg,
    revoke_api_key,
    revoke_invitation,
    start_two_factor,
    update_notification_settings,
    usable_invitation,
)
from avis.errors import Conflict, ValidationFailed


@login_required
@member_required(Role.ADMIN)
def api_keys(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    plaintext = error = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip() or "API key"
        try:
            _, plaintext = create_api_key(
                organisation=organisation,
                name=name[:100],
                created_by=request.user,
                scope=request.POST.get("scope", Scope.ADMIN),
            )
        except ValidationFailed as exc:
            error = exc.message
    return render(
        request,
        "accounts/api_keys.html",
        {
            "keys": api_keys_of(organisation=organisation),
            "plaintext": plaintext,
            "scopes": Scope.choices,
            "error": error,
        },
        status=422 if error else 200,
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


def _people_page(
    request: HttpRequest, *, errors: dict[str, object] | None = None, status: int = 200
) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    context = {
        "members": members_of(organisation=organisation),
        "invitations": pending_invitations(organisation=organisation),
        "roles": Role.choices,
        "errors": errors or {},
        "typed": request.POST if request.method == "POST" else {},
    }
    return render(request, "accounts/people.html", context, status=status)


@login_required
@member_required(Role.ADMIN)
def people(request: HttpRequest) -> HttpResponse:
    """Members and their roles, pending invitations, and the form to invite a colleague."""
    return _people_page(request)


@login_required
@member_required(Role.ADMIN)
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    """Invite a colleague; the email with the link leaves through the outbox."""
    organisation = request.organisation  # type: ignore[attr-defined]
    try:
        invitation, _token = invite_member(
            organisation=organisation,
            email=request.POST.get("email", ""),
            role=request.POST.get("role", ""),
            invited_by=request.user,
        )
    except (ValidationFailed, Conflict) as exc:
        return _people_page(request, errors={exc.field or "email": exc.message}, status=422)
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
    return redirect("people")


@login_required
@member_required(Role.ADMIN)
@require_POST
def withdraw_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    revoke_invitation(organisation=request.organisation, invitation_id=invitation_id)  # type: ignore[attr-defined]
    messages.success(request, _("Invitation withdrawn: its link no longer works."))
    return redirect("people")


@login_required
@member_required(Role.ADMIN)
@require_POST
def change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    try:
        change_member_role(
            organisation=request.organisation,  # type: ignore[attr-defined]
            membership_id=membership_id,
            role=request.POST.get("role", ""),
        )
    except ValidationFailed as exc:
        return _people_page(request, errors={"member": membership_id, "member_role": exc.message}, status=422)
    messages.success(request, _("Role changed."))
    return redirect("people")


@sensitive_post_parameters("password", "password_again")
@never_cache
def join(request: HttpRequest, token: str) -> HttpResponse:
    """The invited colleague's page: choose a password (or confirm an existing account's), then in."""
    try:
        invitation = usable_invitation(token=token)
    except InvitationUnusable as exc:
        return render(request, "accounts/join.html", {"unusable": exc.message}, status=410)
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = request.POST.get("password", "")
        if password != request.POST.get("password_again", password):
            errors["password"] = _("The two passwords differ.")
        else:
            try:
                membership = accept_invitation(
                    token=token,
                    password=password,
                    first_name=request.POST.get("first_name", ""),
                    last_name=request.POST.get("last_name", ""),
                )
            except ValidationFailed as exc:
                errors[exc.field or "password"] = exc.message
            except InvitationUnusable as exc:
                return render(request, "accounts/join.html", {"unusable": exc.message}, status=410)
            else:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
                request.session[SESSION_KEY] = membership.organisation_id  # lands in this organisation
                return redirect("dashboard:home")
    context = {
        "invitation": invitation,
        "errors": errors,
        "existing": signs_in_already(invitation.email),
        "typed": request.POST,
    }
    return render(request, "accounts/join.html", context, status=422 if errors else 200)


@login_required
@member_required(Role.ADMIN)
def person(request: HttpRequest, membership_id: int) -> HttpResponse:
    """An administrator sets a member's mobile and SMS choices (someone without a screen to hand)."""
    membership = member_of(organisation=request.organisation, membership_id=membership_id)  # type: ignore[attr-defined]
    return _notification_form(request, membership, template="accounts/person.html")


# --- Signing in with a second factor, passwords ---------------------------------------------------

PENDING_USER = "avis_2fa_user"
PENDING_SINCE = "avis_2fa_since"
PENDING_NEXT = "avis_2fa_next"
PENDING_SECONDS = 300  # the code must follow the password within five minutes


class SignInView(auth_views.LoginView):
    """Django's sign-in; someone with two-factor on is signed in only after the code."""

    template_name = "accounts/login.html"

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if confirmed_device(user) is None:
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING_USER] = user.pk
        self.request.session[PENDING_SINCE] = int(time.time())
        self.request.session[PENDING_NEXT] = self.get_success_url()
        return redirect("login_code")


def _pending_user(request: HttpRequest) -> Any:
    since = request.session.get(PENDING_SINCE, 0)
    if not request.session.get(PENDING_USER) or time.time() - since > PENDING_SECONDS:
        return None
    return get_user_model().objects.filter(pk=request.session[PENDING_USER], is_active=True).first()


@sensitive_post_parameters("code")
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: the six digits of the authenticator app. Wrong codes count as refused
    sign-ins (django-axes and the audit trail), and the device slows down repeated ones."""
    user = _pending_user(request)
    if user is None:
        return redirect("login")
    error = ""
    if request.method == "POST":
        device = confirmed_device(user)
        allowed, _why = device.verify_is_allowed()
        if allowed and device.verify_token(request.POST.get("code", "").strip().replace(" ", "")):
            target = request.session.get(PENDING_NEXT) or settings.LOGIN_REDIRECT_URL
            for key in (PENDING_USER, PENDING_SINCE, PENDING_NEXT):
                request.session.pop(key, None)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, device)
            return redirect(target)
        user_login_failed.send(
            sender=__name__, credentials={"username": user.get_username()}, request=request
        )
        error = (
            _("Wrong code: type the six digits the app shows now.")
            if allowed
            else _("Too many wrong codes: wait a little, then try again.")
        )
    return render(request, "accounts/login_code.html", {"error": error}, status=422 if error else 200)


@login_required
@member_required(Role.ADMIN)
@sensitive_post_parameters("code")
@never_cache
def two_factor(request: HttpRequest) -> HttpResponse:
    """An administrator turns two-factor on (a secret shown once, as a QR code and as text) or off."""
    user = request.user
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            if request.POST.get("action") == "disable":
                disable_two_factor(user=user, code=request.POST.get("code", ""))
                messages.success(request, _("Two-factor authentication is off."))
            else:
                confirm_two_factor(user=user, code=request.POST.get("code", ""))
                messages.success(
                    request, _("Two-factor authentication is on: signing in now asks for a code.")
                )
            return redirect("two_factor")
        except ValidationFailed as exc:
            errors["code"] = exc.message
    enrolled = confirmed_device(user) is not None
    context: dict[str, Any] = {"enrolled": enrolled, "errors": errors}
    # A wrong code keeps the secret just shown (the app has it) and does not show it again.
    if not enrolled and not errors:
        device = start_two_factor(user=user)
        secret = base64.b32encode(device.bin_key).decode()
        context |= {
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "qr": mark_safe(qr_code_svg(device.config_url)),  # noqa: S308  # our own SVG
        }
    return render(request, "accounts/two_factor.html", context, status=422 if errors else 200)
