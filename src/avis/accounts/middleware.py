from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from avis.accounts.models import Role
from avis.accounts.queries import membership_in, memberships_of

SESSION_KEY = "avis_organisation_id"

# An advisor reads what customers said about their own interactions, and nothing of the others':
# the pages (by URL name) a signed-in advisor may open. Every other page and the API answer 403.
ADVISOR_PAGES = frozenset(
    {
        "cases:my_feedback",
        "profile",
        "login",
        "login_code",
        "logout",
        "password_change",
        "password_change_done",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
        "join",
        "set_language",
    }
)
# Pages anyone reaches without being a member: the respondent's survey, providers' webhooks.
PUBLIC_PREFIXES = ("/s/", "/hooks/", "/static/", "/i18n/")


def advisor_may_open(path: str) -> bool | None:
    """True if an advisor may open ``path``; None when no page answers there (a 404 follows)."""
    if path.startswith(PUBLIC_PREFIXES):
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name in ADVISOR_PAGES


class OrganisationMiddleware:
    """Attach the signed-in user's current organisation and role to the request.

    Every HTML view reads tenant data through ``request.organisation``, never
    from a URL parameter, so a user cannot reach another tenant by editing a link.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.organisation = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            chosen = request.session.get(SESSION_KEY)
            membership = membership_in(user=user, organisation_id=chosen) if chosen else None
            if membership is None:
                membership = memberships_of(user).first()
            if membership is not None:
                request.organisation = membership.organisation  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
                if membership.role == Role.ADVISOR and advisor_may_open(request.path_info) is False:
                    return _advisor_elsewhere(request)
        return self.get_response(request)


def _advisor_elsewhere(request: HttpRequest) -> HttpResponse:
    if request.path_info == "/":  # home: the advisor's own page
        return redirect("cases:my_feedback")
    return HttpResponseForbidden(_("Advisors see the feedback about their own interactions only."))
