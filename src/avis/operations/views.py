from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.operations.queries import archives, runs


@login_required
@member_required(Role.ADMIN)
def backups(request: HttpRequest) -> HttpResponse:
    """When backups run, how the last ones went, how many are kept: no data of any organisation."""
    return render(
        request,
        "operations/backups.html",
        {
            "runs": runs(limit=30),
            "kept": len(archives()),
            "hour": settings.AVIS_BACKUP_HOUR,
            "keep_daily": settings.AVIS_BACKUP_KEEP_DAILY,
            "keep_weekly": settings.AVIS_BACKUP_KEEP_WEEKLY,
        },
    )
