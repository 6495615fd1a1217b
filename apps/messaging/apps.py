from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "apps.messaging"
    label = "messaging"
    verbose_name = _("Messages")

    def ready(self):
        from apps.media.signals import media_changed
        from apps.providers.meta.signals import token_refused

        from . import token_alerts
        from .services import media_events

        # Meta refused a number's token: its organisation's admins are alerted.
        token_refused.connect(token_alerts.token_error_report, dispatch_uid="whatsapp-token-alerts")
        # A message's file was stored, failed or removed: the message is announced again.
        media_changed.connect(media_events.media_changed_received, dispatch_uid="messaging-media-changed")
