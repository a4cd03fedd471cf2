from __future__ import annotations

from django.urls import path

from avis.messaging import views

app_name = "channels"
urlpatterns = [
    path("", views.channels, name="settings"),
    path("test", views.send_test, name="send-test"),
    path("test/status", views.test_status, name="test-status"),
]
