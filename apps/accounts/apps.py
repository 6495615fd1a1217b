from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        from . import services, signals

        signals.credentials_changed.connect(services.credentials_changed_received,
                                            dispatch_uid="accounts.credentials_changed")
