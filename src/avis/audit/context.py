"""Who is acting, for the services that record audit events without being told.

The services that change settings are called by views, the API and commands; none of them takes
the person as an argument. The middleware below keeps the current request in a context variable
for the length of the request, and ``current_actor`` reads it when an event is recorded: the
signed-in user, or the API key that authenticated (``request.api_key``, set by BearerKey).
Outside a request (a command, the scheduler) the actor is ``system`` unless ``acting_as`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_request: ContextVar[HttpRequest | None] = ContextVar("avis_audit_request", default=None)
_label: ContextVar[str] = ContextVar("avis_audit_label", default="system")


@dataclass(frozen=True)
class Actor:
    user: Any = None
    api_key: Any = None
    label: str = "system"
    ip_address: str | None = None


def client_address(request: HttpRequest) -> str | None:
    """The client's address: the peer's, or behind a proxy (AVIS_BEHIND_PROXY) the last address of
    X-Forwarded-For, the one the proxy itself saw and appended."""
    if settings.AVIS_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


def actor_of(request: HttpRequest) -> Actor:
    address = client_address(request)
    key = getattr(request, "api_key", None)
    if key is not None:
        return Actor(api_key=key, label=f"API key {key.name} ({key.prefix}…)", ip_address=address)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(user=user, label=user.get_username(), ip_address=address)
    return Actor(label="anonymous", ip_address=address)


def current_actor() -> Actor:
    request = _request.get()
    if request is not None:
        return actor_of(request)
    return Actor(label=_label.get())


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    """Name the actor of what happens outside a request, such as ``command line``."""
    token = _label.set(label)
    try:
        yield
    finally:
        _label.reset(token)


class AuditActorMiddleware:
    """Keep the request at hand for ``current_actor`` while it is served."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
