from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from avis.api import api

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
