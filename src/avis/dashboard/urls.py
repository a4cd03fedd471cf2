from django.urls import path

from avis.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("setup/", views.setup, name="setup"),
    path("metrics/", views.metrics, name="metrics"),
    path("decisions/", views.decisions, name="decisions"),
    path("customers/<path:external_id>/", views.customer, name="customer"),
    path("settings/policy/", views.policy, name="policy"),
    path("settings/sampling/", views.sampling, name="sampling"),
]
