from django.urls import path

from avis.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.imports, name="imports"),
    path("<int:import_id>/", views.data_import, name="import"),
    path("<int:import_id>/confirm", views.confirm, name="confirm_import"),
    path("<int:import_id>/progress", views.progress, name="import_progress"),
]
