"""Turn errors a user can cause into HTML answers on the web pages (the API has its own handler).

A refused, missing or failed page is a page of the site: its layout, the navigation when signed in,
and one sentence saying why (``error_page``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.http import http_date
from django.utils.translation import gettext as _

from avis.errors import AvisError, NotFound, PermissionDenied

logger = logging.getLogger(__name__)


def error_page(request: HttpRequest, status: int, reason: str = "") -> HttpResponse:
    """The site's page for a 403, 404 or 500, with the reason when there is one to tell."""
    titles = {
        403: _("You cannot open this page"),
        404: _("There is no such page"),
        500: _("Something went wrong on our side"),
    }
    if not reason and status == 404:
        reason = _("The address may be mistyped, or what it showed was removed.")
    if not reason and status == 500:
        reason = _("The error has been logged; try again in a moment.")
    return render(
        request,
        f"{status}.html",
        {"status": status, "title": titles.get(status, ""), "reason": reason},
        status=status,
    )


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return error_page(request, 403, reason)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page left open too long (or from elsewhere): say what to do, not Django's
    "CSRF verification failed"."""
    return forbidden(request, _("This form has expired. Reload the page and send it again."))


class AvisErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            raise Http404(exception.message)
        if isinstance(exception, PermissionDenied):
            return forbidden(request, exception.message)
        if isinstance(exception, AvisError):
            return HttpResponseBadRequest(exception.message)
        return None


class NoStoreWhenSignedInMiddleware:
    """Pages seen signed in hold an organisation's data: no browser or proxy may keep a copy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


# What Django's ``never_cache`` writes on a response that has no caching headers yet.
NEVER_CACHED = "max-age=0, no-cache, no-store, must-revalidate, private"


def never_cached(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's ``never_cache`` for the respondent's page: the same two headers, written at once.
    ``never_cache`` parses and rebuilds ``Cache-Control`` on every response, a tenth of a
    millisecond of the respondent's two requests; a response that already has caching headers
    still goes through it."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        headers = response.headers
        if "Cache-Control" in headers or "Expires" in headers:
            add_never_cache_headers(response)
        else:
            headers["Expires"] = http_date()
            headers["Cache-Control"] = NEVER_CACHED
        return response

    return wrapped
