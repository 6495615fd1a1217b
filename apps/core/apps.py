from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self):
        from apps.core import site_theme

        # Sent after migrate and after flush (the transactional tests' reset) alike, for
        # each app with models: the theme's app, whose table it needs.
        post_migrate.connect(site_theme.ensure_theme, sender=apps.get_app_config("admin_interface"),
                             dispatch_uid="core.site_theme")
