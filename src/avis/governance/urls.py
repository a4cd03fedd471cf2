from django.urls import path

from avis.governance import views

app_name = "governance"
urlpatterns = [
    path("simulation/", views.simulation, name="simulation"),
    path("simulation/<str:token>/", views.simulation_result, name="simulation_result"),
]
