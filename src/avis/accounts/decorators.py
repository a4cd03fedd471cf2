from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from avis.http import forbidden

View = Callable[..., HttpResponse]


def member_required(*roles: str) -> Callable[[View], View]:
    """The signed-in user must belong to an organisation, with one of ``roles`` if given."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = getattr(request, "membership", None)
            if membership is None:
                return forbidden(request, _("Your account belongs to no organisation."))
            if roles and membership.role not in roles:
                return forbidden(request, _("Your role does not allow this page."))
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
