"""Turn errors a user can cause into HTML answers on the web pages (the API has its own handler)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden

from avis.errors import AvisError, NotFound, PermissionDenied


class AvisErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            raise Http404(exception.message)
        if isinstance(exception, PermissionDenied):
            return HttpResponseForbidden(exception.message)
        if isinstance(exception, AvisError):
            return HttpResponseBadRequest(exception.message)
        return None
