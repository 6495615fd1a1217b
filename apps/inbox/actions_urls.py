from django.urls import path

from . import actions

urlpatterns = [
    path("inbox/c/<int:pk>/send/text/", actions.send_text, name="send_text"),
]
