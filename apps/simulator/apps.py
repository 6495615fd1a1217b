from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorConfig(AppConfig):
    name = "apps.simulator"
    label = "simulator"
    verbose_name = _("WhatsApp simulator")

    def ready(self):
        from django.core.signals import setting_changed
        from django.db.models.signals import post_delete, post_save

        from apps.whatsapp.models import WhatsAppNumber

        from . import checks  # noqa: F401  (registers the deploy check)
        from . import rows
        from .models import SimulatorConfig as Settings

        # The rows a simulator process keeps (rows.read_two_kept): a change saved in
        # this process applies at once.
        for model in (Settings, WhatsAppNumber):
            post_save.connect(rows.forget, sender=model, dispatch_uid=f"simulator-forget-save-{model.__name__}")
            post_delete.connect(rows.forget, sender=model, dispatch_uid=f"simulator-forget-delete-{model.__name__}")
        setting_changed.connect(rows.forget, dispatch_uid="simulator-forget-setting")
