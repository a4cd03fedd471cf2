from __future__ import annotations

from django.http import HttpRequest


def organisation(request: HttpRequest) -> dict[str, object]:
    return {
        "organisation": getattr(request, "organisation", None),
        "membership": getattr(request, "membership", None),
    }
