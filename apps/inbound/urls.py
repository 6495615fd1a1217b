from django.urls import path

from . import views

app_name = "inbound"

# One webhook per provider, each named after it.
urlpatterns = [
    path("whatsapp/", views.whatsapp_webhook, name="meta"),
]
