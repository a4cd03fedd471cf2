from __future__ import annotations

from avis.accounts.models import Organisation
from avis.errors import ValidationFailed
from avis.interactions.models import Touchpoint


def touchpoint_by_code(*, organisation: Organisation, code: str) -> Touchpoint:
    found = Touchpoint.objects.filter(organisation=organisation, code=code).first()
    if found is None:
        raise ValidationFailed(f"Unknown touchpoint {code!r}.", field="touchpoint")
    return found


def touchpoints(*, organisation: Organisation) -> list[Touchpoint]:
    return list(Touchpoint.objects.filter(organisation=organisation).order_by("code"))
