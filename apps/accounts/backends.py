"""Signing in, and the signed-in user of each request with their organisation.

Every page reads the user's organisation (its time zone, its settings): loading it
with the user makes that one query rather than two on every request and websocket.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.middleware import get_user
from django.utils.functional import SimpleLazyObject

from . import access

BACKEND = "apps.accounts.backends.UserBackend"
# The backend sessions signed in before this one was named: they carry on under it.
EARLIER_BACKEND = "django.contrib.auth.backends.ModelBackend"


class UserBackend(ModelBackend):
    """Django's username and password check; the user it returns for a session comes
    with their organisation."""

    def get_user(self, user_id):
        try:
            user = get_user_model()._default_manager.select_related("organization").get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def session_backend_upgrade(session) -> bool:
    """A session signed in under the earlier backend's name is kept, under this one's.
    True when it was renamed."""
    if session.get(BACKEND_SESSION_KEY) != EARLIER_BACKEND:
        return False
    session[BACKEND_SESSION_KEY] = BACKEND
    return True


def _session_backend_upgrade_saved(session) -> None:
    if session_backend_upgrade(session):
        session.save()


class SessionBackendUpgradeMiddleware(BaseMiddleware):
    """The websocket's side (between Channels' session and auth middleware): a page
    reconnecting after a deploy has made no HTTP request that would rename its session."""

    async def __call__(self, scope, receive, send):
        if "session" in scope:
            await database_sync_to_async(_session_backend_upgrade_saved)(scope["session"])
        return await super().__call__(scope, receive, send)


def _user(request):
    if not hasattr(request, "_cached_user"):
        session_backend_upgrade(request.session)
    return get_user(request)


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, with sessions of the earlier backend kept signed in; each request is
    an access.request_scope (a user's teams read once in it)."""

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        with access.request_scope():
            return super().__call__(request)

    async def __acall__(self, request):
        with access.request_scope():
            return await super().__acall__(request)

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))
