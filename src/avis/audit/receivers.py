"""Sign-ins, successful or refused, go to the trail of every organisation the account belongs to."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from avis.audit.context import Actor, client_address
from avis.audit.services import record


def _organisations(user: Any) -> list[Any]:
    from avis.accounts.models import Organisation

    if user is None:
        return []
    return list(Organisation.objects.filter(memberships__user=user))


@receiver(user_logged_in, dispatch_uid="audit_login_succeeded")
def login_succeeded(sender: object, request: Any, user: Any, **kwargs: Any) -> None:
    address = client_address(request) if request is not None else None
    actor = Actor(user=user, label=user.get_username(), ip_address=address)
    for organisation in _organisations(user) or [None]:
        record(organisation=organisation, action="login.succeeded", target=user, actor=actor)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def login_failed(sender: object, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """The typed address is kept (never the password): repeated refusals show who is being tried."""
    typed = str(credentials.get("username") or "")[:150]
    address = client_address(request) if request is not None else None
    user = get_user_model().objects.filter(username=typed.lower()).first() if typed else None
    actor = Actor(label=typed or "anonymous", ip_address=address)
    for organisation in _organisations(user) or [None]:
        record(
            organisation=organisation,
            action="login.failed",
            object_type="user",
            object_id=user.pk if user is not None else "",
            object_label=typed,
            actor=actor,
        )
