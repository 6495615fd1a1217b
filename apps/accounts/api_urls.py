from django.urls import path

from . import api

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("users/", api.UserListView.as_view(), name="api-user-list"),
    path("teams/", api.TeamListView.as_view(), name="api-team-list"),
]
