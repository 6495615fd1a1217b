"""REST API tokens: issued once, stored hashed, revoked on a password change.

A key is `ApiToken.PREFIX_LENGTH` characters that find the row, followed by the
secret; the row keeps only the SHA-256 of the whole key (a key is 256 random bits, so
a fast hash is enough: there is nothing to guess a dictionary from). Clients send it
as before: `Authorization: Token <key>`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .models import ApiToken, User

# last_used_at is written at most this often per token (not on every request).
LAST_USED_EVERY = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_issue(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token of `user`. Returns the row and the key, which is never shown again."""
    name = name.strip()
    if not name:
        raise ValidationError(_("A token needs a name (what uses it)."))
    key = secrets.token_hex(ApiToken.PREFIX_LENGTH // 2) + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:ApiToken.PREFIX_LENGTH], key_hash=key_hash(key))
    return token, key


def tokens_revoke(*, tokens) -> int:
    """Revoke the tokens of the queryset `tokens` not revoked yet; how many."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_tokens_revoke(*, user_id: int) -> int:
    return tokens_revoke(tokens=ApiToken.objects.filter(user_id=user_id))


def token_authenticate(*, key: str) -> ApiToken | None:
    """The live token whose key is `key` (its user loaded), or None."""
    if not isinstance(key, str) or len(key) <= ApiToken.PREFIX_LENGTH:
        return None
    digest = key_hash(key)
    found = None
    candidates = ApiToken.objects.select_related("user").filter(
        prefix=key[:ApiToken.PREFIX_LENGTH], revoked_at__isnull=True
    )
    for token in candidates:
        if constant_time_compare(token.key_hash, digest):
            found = token
    if found is not None:
        now = timezone.now()
        if found.last_used_at is None or found.last_used_at < now - LAST_USED_EVERY:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
    return found


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>` header, checked against hashed ApiTokens."""

    def authenticate_credentials(self, key):
        token = token_authenticate(key=key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema names the scheme as it named DRF's TokenAuthentication."""

    target_class = "apps.accounts.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix=self.target.keyword)
