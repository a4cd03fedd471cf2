from __future__ import annotations

from django.urls import path

from avis.messaging import views

app_name = "messaging"
urlpatterns = [
    path("simulator/", views.simulator, name="simulator"),
    path("simulator/thread", views.simulator_thread, name="simulator-thread"),
    path("simulator/reply", views.simulator_reply, name="simulator-reply"),
    path("sms-length/", views.sms_length, name="sms-length"),
    path("costs/", views.costs, name="costs"),
    path("unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
]
