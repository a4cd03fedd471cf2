"""The touchpoint pages, among the settings (/settings/touchpoints/)."""

from django.urls import path

from avis.interactions import views

app_name = "touchpoints"
urlpatterns = [
    path("", views.touchpoint_list, name="list"),
    path("webhook/rotate", views.rotate_secret, name="rotate-secret"),
    path("<str:code>/", views.touchpoint_detail, name="detail"),
    path("<str:code>/template.csv", views.template_csv, name="template"),
]
