from django.urls import path

from . import api

urlpatterns = [
    path("notifications/", api.NotificationCreateView.as_view(), name="api-notification-create"),
    path("notifications/<int:pk>/", api.NotificationDetailView.as_view(), name="api-notification-detail"),
]
