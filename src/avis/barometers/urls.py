from django.urls import path

from avis.barometers import views

app_name = "barometers"
urlpatterns = [
    path("", views.barometers, name="list"),
    path("new/", views.new, name="new"),
    path("preview/", views.preview, name="preview"),
    path("<int:barometer_id>/", views.edit, name="edit"),
    path("<int:barometer_id>/waves/<int:number>/", views.wave, name="wave"),
    path("<int:barometer_id>/waves/<int:number>/fieldwork/", views.fieldwork, name="fieldwork"),
    path("<int:barometer_id>/waves/<int:number>/report.pdf", views.wave_report, name="wave_report"),
    path("<int:barometer_id>/waves/<int:number>/answers.<str:fmt>", views.wave_answers, name="wave_answers"),
    path("<int:barometer_id>/against-the-flow/", views.against, name="vs_flow"),
]
