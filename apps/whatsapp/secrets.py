"""The secrets a genuine delivery may be signed with, read from the numbers.

Checking a signature is the provider's pure work (`signature.matching_secret`);
which secrets to check it against is ours: settings.META_APP_SECRET and the app
secrets of the active numbers. They are decrypted once and cached in the process for
a short time, so a burst of deliveries costs no query each. `verify_delivery` tells
which secret signed a delivery, as its fingerprint (`signature.secret_fingerprint`);
the delivery keeps it, and processing routes an item only to numbers whose
effective secret has it.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from apps.providers.meta.signature import matching_secret, secret_fingerprint

# How long the decrypted set of app secrets is reused before it is read again.
SECRETS_TTL_SECONDS = 30.0
# A signature that matches none of the cached secrets re-reads them (a number may
# have just been added), but not more often than this: forged deliveries cannot
# turn into one query each.
SECRETS_MIN_REFRESH_SECONDS = 1.0

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
    secret that signed it (see signature.secret_fingerprint), or None."""
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
