"""Who is calling the API, for which organisation, and whether the role matrix lets them.

Below every app's ``api.py``: ``avis/api.py`` uses these classes as the API's only
authentication, so every operation is checked here against ``permissions.OPERATIONS`` —
a signed-in person by role, an API key by scope — and no endpoint checks roles itself.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer

from avis.accounts.models import Organisation, Role
from avis.accounts.permissions import Operation, operation_access
from avis.accounts.services import authenticate_api_key
from avis.errors import PermissionDenied


def _operation(request: HttpRequest) -> Operation:
    match = request.resolver_match
    return operation_access(request.method or "GET", match.route if match else "")


class BearerKey(HttpBearer):
    """``Authorization: Bearer <api key>``; the key decides the organisation, its scope what it may do."""

    def authenticate(self, request: HttpRequest, token: str) -> Organisation | None:
        key = authenticate_api_key(token)
        if key is None:
            return None
        request.organisation = key.organisation  # type: ignore[attr-defined]
        # Who acted, for the audit trail: the key, not a person.
        request.api_key = key  # type: ignore[attr-defined]
        if not _operation(request).allows_scope(key.scope):
            raise PermissionDenied(
                _("This API key's scope (%(scope)s) does not allow this operation.") % {"scope": key.scope}
            )
        return key.organisation


class SessionOrganisation(APIKeyCookie):
    """A signed-in user's session (CSRF-checked): the same roles as the pages."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Organisation | None:
        user = getattr(request, "user", None)
        membership = getattr(request, "membership", None)
        if user is None or not user.is_authenticated or membership is None:
            return None
        if not _operation(request).allows_role(membership.role):
            raise PermissionDenied(refusal_for(membership.role, page=False))
        return membership.organisation  # type: ignore[no-any-return]


def refusal_for(role: str, *, page: bool) -> str:
    """What a refused member reads, on a page or from the API."""
    if role == Role.ADVISOR:
        return _("Advisors see the feedback about their own interactions only.")
    return _("Your role does not allow this page.") if page else _("Your role does not allow this operation.")


def require_role(request: HttpRequest, roles: tuple[str, ...], refusal: str) -> None:
    """Kept for code written before the matrix; add a row to ``permissions.OPERATIONS`` instead."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is not None and user is not None and user.is_authenticated and membership.role not in roles:
        raise PermissionDenied(refusal)


def organisation_of(request: HttpRequest) -> Organisation:
    """The organisation the request's authentication decided; every API query is scoped to it."""
    return request.auth  # type: ignore[attr-defined, no-any-return]
