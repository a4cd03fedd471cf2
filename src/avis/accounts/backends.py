"""Sign-in throttling (django-axes) in front of Django's own password check."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class ThrottledBackend(AxesStandaloneBackend):
    """Refuses a locked-out client before its password is even checked.

    Every sign-in page passes the request, so every one is throttled. Authentication without
    a request (the test client's ``login``, a shell) has no client to count and goes on to
    the next backend, instead of failing as django-axes' own backend does.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def typed_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """Addresses are kept in lower case: ``Admin@x`` and ``admin@x`` count as one."""
    typed = (credentials or {}).get("username")
    if typed is None:
        typed = request.POST.get("username", "") if request is not None else ""
    return str(typed).strip().lower()
