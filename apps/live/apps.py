from django.apps import AppConfig


class LiveConfig(AppConfig):
    """The websocket door: the inbox's live socket, agents' presence and typing, and
    the catch-up a reconnecting page reads. The events it relays are published by the
    services through apps.realtime.publish."""

    name = "apps.live"
    label = "live"
