"""avis's URLs plus one page that fails, to see the 500 page as a user does (tests only)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from avis.urls import handler403, handler404, handler500
from avis.urls import urlpatterns as site_patterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a page")


urlpatterns = [path("broken/", broken, name="tests-broken"), *site_patterns]
