from __future__ import annotations

from avis.accounts.models import Organisation
from avis.privacy.models import RetentionRun


def recent_runs(*, organisation: Organisation, limit: int = 20) -> list[RetentionRun]:
    return list(RetentionRun.objects.filter(organisation=organisation).order_by("-started_at", "-id")[:limit])
