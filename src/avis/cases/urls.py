from django.urls import path

from avis.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("rows", views.case_rows, name="rows"),
    path("<int:case_id>/", views.case_page, name="detail"),
    path("<int:case_id>/take", views.take, name="take"),
    path("<int:case_id>/contacted", views.contacted, name="contacted"),
    path("<int:case_id>/resolve", views.resolve, name="resolve"),
]
