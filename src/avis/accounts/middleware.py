from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.authentication import refusal_for
from avis.accounts.models import Role
from avis.accounts.permissions import PAGES, page_access, refusal
from avis.accounts.queries import membership_in, memberships_of
from avis.http import forbidden

SESSION_KEY = "avis_organisation_id"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None  # the installation's zone (settings.TIME_ZONE)


class OrganisationMiddleware:
    """Attach the signed-in user's current organisation and role to the request, and let a page
    answer only the roles the matrix (``accounts/permissions.py``) gives it.

    Every HTML view reads tenant data through ``request.organisation``, never
    from a URL parameter, so a user cannot reach another tenant by editing a link.
    The API's operations are checked by its own authentication, against the same matrix.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.organisation = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.api_key = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            chosen = request.session.get(SESSION_KEY)
            membership = membership_in(user=user, organisation_id=chosen) if chosen else None
            if membership is None:
                membership = memberships_of(user).first()
            if membership is not None:
                request.organisation = membership.organisation  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
        if request.organisation is None:  # type: ignore[attr-defined]
            return self.get_response(request)
        # Times on the pages are the organisation's wall-clock times, whatever the server's zone.
        with timezone.override(_zone(request.organisation.default_time_zone)):  # type: ignore[attr-defined]
            return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        name = request.resolver_match.view_name if request.resolver_match else ""
        if name.startswith("api:") and name not in PAGES:
            return None  # an API operation: BearerKey / SessionOrganisation apply the matrix
        page = page_access(name)
        if page.public or page.django_admin:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = request.membership  # type: ignore[attr-defined]
        if membership is None:
            return forbidden(request, _("Your account belongs to no organisation."))
        if page.allows(membership.role, request.method or "GET"):
            return None
        if membership.role == Role.ADVISOR and name == "dashboard:home":
            return redirect("cases:my_feedback")  # an advisor's home is their own feedback
        reason = refusal(name, request.method or "GET")
        if membership.role == Role.ADVISOR:
            reason = f"{refusal_for(membership.role, page=True)} {reason}"
        return forbidden(request, reason)
