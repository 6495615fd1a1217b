"""Meta's webhook signature: X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, raw body).

`sign_body` builds the header value (the simulator and the tests sign with it);
`matching_secret` and `verify_signature` check a header against the candidate
secrets they are given, in constant time. Pure functions: the secrets come from the
caller (the numbers' secrets, read and cached by apps.whatsapp.secrets).

A valid signature is not enough to route a delivery: any organisation knows its own
number's secret. The secret that matched is therefore kept as its fingerprint
(`secret_fingerprint`, keyed with SECRET_KEY so the stored value never reveals or
helps guess the secret), and processing routes an item only to numbers whose
effective secret (`effective_secret`) has it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

PREFIX = "sha256="
HEADER = "HTTP_X_HUB_SIGNATURE_256"


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
