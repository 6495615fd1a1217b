"""Template context for every page."""

from django.conf import settings


def websocket(request):
    """WEBSOCKET_URL for static/inbox/live.js (empty: the page's own origin)."""
    return {"websocket_url": settings.WEBSOCKET_URL}
