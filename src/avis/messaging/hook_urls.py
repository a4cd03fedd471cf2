from __future__ import annotations

from django.urls import path

from avis.messaging import hooks

app_name = "hooks"
urlpatterns = [
    path("twilio/status", hooks.twilio_status, name="twilio-status"),
    path("twilio/inbound", hooks.twilio_inbound, name="twilio-inbound"),
    path("http/receipt", hooks.http_receipt, name="http-receipt"),
    path("http/inbound", hooks.http_inbound, name="http-inbound"),
    path("email/events", hooks.email_events, name="email-events"),
    path("org/<slug:slug>/twilio/status", hooks.org_twilio_status, name="org-twilio-status"),
    path("org/<slug:slug>/twilio/inbound", hooks.org_twilio_inbound, name="org-twilio-inbound"),
    path("org/<slug:slug>/http/receipt", hooks.org_http_receipt, name="org-http-receipt"),
    path("org/<slug:slug>/http/inbound", hooks.org_http_inbound, name="org-http-inbound"),
]
