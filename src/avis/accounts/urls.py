from django.contrib.auth import views as auth_views
from django.urls import path

from avis.accounts import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke", views.revoke_key, name="revoke_api_key"),
    path("profile/", views.profile, name="profile"),
    path("settings/people/", views.people, name="people"),
    path("settings/people/<int:membership_id>/", views.person, name="person"),
    path("settings/people/invite", views.invite, name="invite"),
    path(
        "settings/people/invitations/<int:invitation_id>/withdraw", views.withdraw_invitation, name="withdraw"
    ),
    path("settings/people/<int:membership_id>/role", views.change_role, name="change_role"),
    path("join/<str:token>", views.join, name="join"),
]
