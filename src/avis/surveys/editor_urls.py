"""The survey designer, among the settings pages (/settings/surveys/)."""

from django.urls import path

from avis.surveys import views

app_name = "survey_editor"
urlpatterns = [
    path("", views.survey_list, name="list"),
    path("<int:survey_id>/", views.survey_edit, name="edit"),
    path("<int:survey_id>/preview/", views.channel_preview, name="preview"),
    path("<int:survey_id>/sms/<slug:code>/<str:language>/", views.sms_preview, name="sms-preview"),
]
