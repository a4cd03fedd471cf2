from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, include, path
from django.views import defaults

from avis.api import api, json_not_found, json_server_error
from avis.http import error_page, forbidden

logger = logging.getLogger(__name__)

urlpatterns = [
    path("api/v1/", api.urls),
    path("s/", include("avis.surveys.urls")),
    path("settings/surveys/", include("avis.surveys.editor_urls")),
    path("settings/channels/", include("avis.messaging.channel_urls")),
    path("settings/touchpoints/", include("avis.interactions.urls")),
    path("cases/", include("avis.cases.urls")),
    path("analytics/", include("avis.analytics.urls")),
    path("barometers/", include("avis.barometers.urls")),
    path("governance/", include("avis.governance.urls")),
    path("imports/", include("avis.customers.urls")),
    path("hooks/", include("avis.messaging.hook_urls")),
    path("messaging/", include("avis.messaging.urls")),
    path("settings/audit/", include("avis.audit.urls")),
    path("settings/privacy/", include("avis.privacy.urls")),
    path("settings/", include("avis.operations.urls")),
    path("", include("avis.accounts.urls")),
    path("", include("avis.dashboard.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
if settings.AVIS_BENCH_BASELINE:  # bench/respond.py's server only: not a page of avis, nor of its matrix
    from avis.accounts.permissions import PAGES, PUBLIC_PAGE
    from avis.bench_baseline import baseline

    PAGES["bench_baseline"] = PUBLIC_PAGE
    urlpatterns.insert(0, path("bench/baseline/<str:token>", baseline, name="bench_baseline"))


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Under /api/ the API's JSON; elsewhere the site's page with the reason, when there is one."""
    reason = str(exception) if isinstance(exception.args[0] if exception.args else None, str) else ""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "forbidden", "message": reason or "Not allowed."}, status=403)
    return forbidden(request, reason)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Under /api/ a missing page is the API's JSON error; elsewhere the site's page."""
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    # Our own Http404s carry a sentence for the reader ("No such simulation."); the resolver's don't.
    said = exception.args[0] if exception.args and not isinstance(exception, Resolver404) else None
    return error_page(request, 404, said if isinstance(said, str) else "")


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    try:
        return error_page(request, 500)
    except Exception:  # noqa: BLE001 - the page itself failed (the database is down…): Django's plain one
        logger.exception("The error page could not be drawn")
        return defaults.server_error(request)
