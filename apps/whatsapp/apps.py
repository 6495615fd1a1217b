from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WhatsappConfig(AppConfig):
    """The numbers an organisation connects (WhatsAppNumber), their binding and secrets."""

    name = "apps.whatsapp"
    label = "whatsapp"
    verbose_name = _("WhatsApp numbers")
