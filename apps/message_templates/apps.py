from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessageTemplatesConfig(AppConfig):
    name = "apps.message_templates"
    label = "message_templates"
    verbose_name = _("Message templates")
