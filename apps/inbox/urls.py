from django.urls import include, path

from . import views

app_name = "inbox"

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("apps.inbox.actions_urls")),
]
