from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import defaults

from avis.api import api, json_not_found, json_server_error

urlpatterns = [
    path("api/v1/", api.urls),
    path("s/", include("avis.surveys.urls")),
    path("settings/surveys/", include("avis.surveys.editor_urls")),
    path("settings/channels/", include("avis.messaging.channel_urls")),
    path("settings/touchpoints/", include("avis.interactions.urls")),
    path("cases/", include("avis.cases.urls")),
    path("analytics/", include("avis.analytics.urls")),
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


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Under /api/ a missing page is the API's JSON error; elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
