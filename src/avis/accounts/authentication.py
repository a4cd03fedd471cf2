"""Who is calling the API, and for which organisation.

Below every app's ``api.py``: each router reads the caller's organisation
from here, and ``avis/api.py`` (which gathers the routers) uses the same
classes as its default authentication, so no app imports the API module
that imports it.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from avis.accounts.models import Organisation
from avis.accounts.services import authenticate_api_key
from avis.errors import PermissionDenied


class BearerKey(HttpBearer):
    """``Authorization: Bearer <api key>``; the key decides the organisation."""

    def authenticate(self, request: HttpRequest, token: str) -> Organisation | None:
        key = authenticate_api_key(token)
        if key is None:
            return None
        request.organisation = key.organisation  # type: ignore[attr-defined]
        request.api_key = key  # type: ignore[attr-defined]  # the actor of what this request changes
        return key.organisation


class SessionOrganisation(APIKeyCookie):
    """A signed-in user's session, for the UI's own calls (CSRF-checked)."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Organisation | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return getattr(request, "organisation", None)


def organisation_of(request: HttpRequest) -> Organisation:
    """The organisation the request's authentication decided; every API query is scoped to it."""
    return request.auth  # type: ignore[attr-defined, no-any-return]


def require_role(request: HttpRequest, roles: tuple[str, ...], refusal: str) -> None:
    """A signed-in person calling the API needs one of ``roles``; an API key acts for the whole
    organisation (keys have no role) and passes."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is not None and user is not None and user.is_authenticated and membership.role not in roles:
        raise PermissionDenied(refusal)
