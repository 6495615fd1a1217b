"""Signals of the media app: how it tells the floors above it that something happened,
without importing them."""

from django.dispatch import Signal

# A message's file changed state: stored, failed or removed (sent by
# services.media_publish, with `media`, its message loaded). Received by
# apps.messaging.services.media_events (connected in MessagingConfig.ready), which
# announces the message with its file to those who may see it.
media_changed = Signal()
