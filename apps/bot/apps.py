from django.apps import AppConfig


class BotConfig(AppConfig):
    name = "apps.bot"
    label = "bot"
