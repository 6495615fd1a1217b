"""ASGI entry point: HTTP and the inbox websocket.

Production serves plain HTTP with gunicorn (WSGI) and websockets with daphne on
this application; on embedded defaults `manage.py runserver` serves both.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from apps.accounts.backends import SessionBackendUpgradeMiddleware  # noqa: E402
from apps.live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Channels' AuthMiddlewareStack, with sessions of the backend's earlier name kept
        # signed in (apps/accounts/backends.py).
        "websocket": AllowedHostsOriginValidator(
            SessionMiddlewareStack(SessionBackendUpgradeMiddleware(AuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)
