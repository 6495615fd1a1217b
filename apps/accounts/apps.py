from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Organisations and people")

    def ready(self):
        from . import services, signals

        signals.credentials_changed.connect(services.credentials_changed_received,
                                            dispatch_uid="accounts.credentials_changed")
