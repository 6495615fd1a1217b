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
        # A request that changes teams reads them again for the rules it builds after.
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from . import access
        from .models import Team

        def forget(**kwargs):
            access.team_scopes_forget()

        for sender in (Team.members.through, Team.numbers.through):
            m2m_changed.connect(forget, sender=sender, weak=False, dispatch_uid=f"accounts.scopes.{sender.__name__}")
        for signal in (post_save, post_delete):
            signal.connect(forget, sender=Team, weak=False, dispatch_uid=f"accounts.scopes.team.{id(signal)}")
