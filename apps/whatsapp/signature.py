"""Meta's webhook signature: X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, raw body).

`sign_body` builds the header value (the simulator and the tests sign with it);
`verify_signature` checks a header against one or more candidate secrets in
constant time. The secrets of the active numbers are decrypted once and cached in
the process for a short time, so a burst of deliveries costs no query each.

A valid signature is not enough to route a delivery: any organisation knows its own
number's secret. `verify_delivery` therefore tells which secret matched, as its
fingerprint (`secret_fingerprint`, keyed with SECRET_KEY so the stored value never
reveals or helps guess the secret); the delivery keeps it, and processing routes an
item only to numbers whose effective secret (`effective_secret`) has it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

PREFIX = "sha256="
HEADER = "HTTP_X_HUB_SIGNATURE_256"
# How long the decrypted set of app secrets is reused before it is read again.
SECRETS_TTL_SECONDS = 30.0
# A signature that matches none of the cached secrets re-reads them (a number may
# have just been added), but not more often than this: forged deliveries cannot
# turn into one query each.
SECRETS_MIN_REFRESH_SECONDS = 1.0


def sign_body(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header value Meta would send for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


# The short alias used by the test helpers.
sign = sign_body


def matching_secret(body: bytes, header: str | None, secrets: Iterable[str]) -> str | None:
    """The one of `secrets` under which `header` is the signature of `body`, if any."""
    if not header or not header.startswith(PREFIX):
        return None
    given = header[len(PREFIX):].strip().lower()
    if len(given) != 64:
        return None
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return secret
    return None


def verify_signature(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when `header` is the signature of `body` under any of `secrets`."""
    return matching_secret(body, header, secrets) is not None


def secret_fingerprint(secret: str) -> str:
    """What a delivery records of the secret that signed it: HMAC-SHA256 keyed with
    SECRET_KEY, so neither the database nor an admin page holds the secret itself."""
    return _fingerprint(settings.SECRET_KEY, secret) if secret else ""


@lru_cache(maxsize=4096)
def _fingerprint(key: str, secret: str) -> str:
    return hmac.new(key.encode(), b"whatsapp-app-secret:" + secret.encode(), hashlib.sha256).hexdigest()


def effective_secret(number) -> str:
    """The secret Meta signs a number's deliveries with: its own app secret, or the
    platform's (settings.META_APP_SECRET) when it has none."""
    return number.app_secret or settings.META_APP_SECRET or ""


def signed_by_number(number, fingerprint: str) -> bool:
    """True when the secret with this fingerprint is `number`'s effective secret."""
    return bool(fingerprint) and hmac.compare_digest(secret_fingerprint(effective_secret(number)), fingerprint)


_cache_lock = threading.Lock()
_cache: tuple[float, tuple[str, ...]] | None = None


def app_secrets(*, max_age: float = SECRETS_TTL_SECONDS) -> tuple[str, ...]:
    """Every secret a genuine delivery may be signed with: settings.META_APP_SECRET
    and the app secrets of the active numbers (decrypted), cached briefly."""
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    from .models import WhatsAppNumber

    found: list[str] = []
    if settings.META_APP_SECRET:
        found.append(settings.META_APP_SECRET)
    for secret in WhatsAppNumber.objects.filter(is_active=True).exclude(app_secret="").values_list(
        "app_secret", flat=True
    ):
        if secret and secret not in found:
            found.append(secret)
    secrets = tuple(found)
    with _cache_lock:
        _cache = (now, secrets)
    return secrets


def verify_delivery(body: bytes, header: str | None) -> str | None:
    """Check a delivery against the app secrets, re-reading them at most once a
    second when the cached set does not match. Returns the fingerprint of the
    secret that signed it (see secret_fingerprint), or None."""
    if not header:
        return None
    secret = matching_secret(body, header, app_secrets())
    if secret is None:
        cached = _cache
        if cached is not None and time.monotonic() - cached[0] < SECRETS_MIN_REFRESH_SECONDS:
            return None
        secret = matching_secret(body, header, app_secrets(max_age=SECRETS_MIN_REFRESH_SECONDS))
    return None if secret is None else secret_fingerprint(secret)


def clear_secrets_cache() -> None:
    """Forget the cached secrets (after a number's secret changes; tests)."""
    global _cache
    with _cache_lock:
        _cache = None
