from django.urls import path

from . import api

urlpatterns = [
    path("media/", api.MediaUploadApi.as_view(), name="api-media-upload"),
    path("media/<int:media_id>/", api.MediaDetailApi.as_view(), name="api-media-detail"),
]
