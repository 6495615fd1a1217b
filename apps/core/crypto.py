"""Encryption at rest for secrets kept in the database (Fernet, with key rotation)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY.") from exc


def mask(value: str | None) -> str:
    """What may be shown of a secret: its length class and last two characters at most."""
    if not value:
        return ""
    return "•" * 8 + (value[-2:] if len(value) >= 12 else "")
