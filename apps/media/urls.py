from django.urls import path

from . import views

app_name = "media"

urlpatterns = [
    path("m/<int:media_id>/", views.media_open, name="open"),
    path("m/<int:media_id>/thumbnail/", views.media_thumbnail, name="thumbnail"),
    path("<str:token>/", views.media_serve, name="serve"),
]
