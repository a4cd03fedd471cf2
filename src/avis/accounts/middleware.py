from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from avis.accounts.queries import membership_in, memberships_of

SESSION_KEY = "avis_organisation_id"


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
        return self.get_response(request)
