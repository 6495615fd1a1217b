from django.urls import path

from . import api

urlpatterns = [
    path("messages/", api.MessageCreateView.as_view(), name="api-message-send"),
    path("messages/<int:pk>/", api.MessageDetailView.as_view(), name="api-message-detail"),
]
