from __future__ import annotations

from django.db.models import F
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.errors import NotFound, ValidationFailed
from avis.interactions.models import Touchpoint


def touchpoint_by_code(*, organisation: Organisation, code: str) -> Touchpoint:
    """A touchpoint named in a request's body: an unknown code is a bad field."""
    found = Touchpoint.objects.filter(organisation=organisation, code=code).first()
    if found is None:
        raise ValidationFailed(f"Unknown touchpoint {code!r}.", field="touchpoint")
    return found


def touchpoint_of(*, organisation: Organisation, code: str, lock: bool = False) -> Touchpoint:
    """A touchpoint named in an address: another organisation's is as good as unknown (404).

    ``lock`` holds its row until the transaction ends, for a service about to change it.
    """
    rows = Touchpoint.objects.select_for_update() if lock else Touchpoint.objects
    found = rows.filter(organisation=organisation, code=code).first()
    if found is None:
        raise NotFound(_("No touchpoint %(code)r in this organisation.") % {"code": code})
    return found


def touchpoints(*, organisation: Organisation) -> list[Touchpoint]:
    """Every touchpoint, those in use first, then the archived ones; each by code."""
    return list(
        Touchpoint.objects.filter(organisation=organisation).order_by(
            F("archived_at").asc(nulls_first=True), "code"
        )
    )
