from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboundConfig(AppConfig):
    """The inbound pipeline: the deliveries providers make to our webhooks, stored as
    received, drained in batches, each typed event routed to the domain's services;
    retries, dead letters and replay."""

    name = "apps.inbound"
    label = "inbound"
    verbose_name = _("Webhook deliveries")

    def ready(self):
        from django.test.signals import setting_changed

        from . import services

        # A test that turns the inbound number cache on starts from an empty one.
        setting_changed.connect(services.number_cache_clear, dispatch_uid="whatsapp-number-cache")
