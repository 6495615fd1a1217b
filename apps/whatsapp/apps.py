from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "apps.whatsapp"
    label = "whatsapp"

    def ready(self):
        from django.test.signals import setting_changed

        from apps.accounts.signals import number_bound
        from apps.providers.meta.signals import token_refused

        from . import secrets, services, token_alerts

        # A test that turns the inbound number cache on starts from an empty one.
        setting_changed.connect(services.number_cache_clear, dispatch_uid="whatsapp-number-cache")
        # A number bound or rebound: the webhook reads the app secrets again.
        number_bound.connect(secrets.number_bound_received, dispatch_uid="whatsapp-secrets-cache")
        # Meta refused a number's token: its organisation's admins are alerted.
        token_refused.connect(token_alerts.token_error_report, dispatch_uid="whatsapp-token-alerts")
