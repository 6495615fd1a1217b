from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    """The numbers an organisation connects (WhatsAppNumber), their binding and secrets."""

    name = "apps.whatsapp"
    label = "whatsapp"
