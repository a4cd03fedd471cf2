from django.urls import path

from avis.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("settings", views.settings_page, name="settings"),
    path("my-feedback", views.my_feedback, name="my_feedback"),
    path("effect", views.effect_page, name="effect"),
    path("settings/<slug:section>", views.save_settings, name="save_settings"),
    path("rows", views.case_rows, name="rows"),
    path("<int:case_id>/", views.case_page, name="detail"),
    path("<int:case_id>/take", views.take, name="take"),
    path("<int:case_id>/contacted", views.contacted, name="contacted"),
    path("<int:case_id>/resolve", views.resolve, name="resolve"),
    path("<int:case_id>/close", views.close, name="close"),
    path("<int:case_id>/reopen", views.reopen, name="reopen"),
    path("<int:case_id>/note", views.note, name="note"),
    path("<int:case_id>/root-cause", views.root_cause, name="root_cause"),
]
