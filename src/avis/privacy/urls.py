from django.urls import path

from avis.privacy import views

app_name = "privacy"
urlpatterns = [
    path("", views.privacy, name="settings"),
    path("customer/", views.customer, name="customer"),
    path("customer/erase", views.erase, name="erase"),
]
