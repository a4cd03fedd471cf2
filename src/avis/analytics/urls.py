from django.urls import path

from avis.analytics import views

app_name = "analytics"
urlpatterns = [
    path("comments/", views.comments, name="comments"),
    path("drivers/", views.drivers, name="drivers"),
    path("", views.overview, name="overview"),
    path("people/", views.people, name="people"),
    path("weighting/", views.weighting, name="weighting"),
    path("contact-pressure/", views.pressure, name="pressure"),
    path("closed-loop/", views.loop, name="loop"),
    path("export/<str:what>.<str:fmt>", views.export, name="export"),
    path("report/", views.report_choice, name="report_choice"),
    path("report.pdf", views.report, name="report"),
    path("settings/", views.figure_settings, name="settings"),
]
