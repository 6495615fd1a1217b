from django.urls import path

from . import api

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("users/", api.UserListView.as_view(), name="api-user-list"),
    path("users/<int:pk>/", api.UserDetailView.as_view(), name="api-user-detail"),
    path("teams/", api.TeamListView.as_view(), name="api-team-list"),
]
