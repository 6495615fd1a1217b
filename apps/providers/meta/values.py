"""Reading Meta's webhook values: timestamps, lists, strings, a change's number."""

from __future__ import annotations

import re
from datetime import UTC, datetime


def parse_timestamp(value) -> datetime | None:
    """Meta's epoch seconds (a string or a number) as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(int(str(value).strip()), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str:
    return "" if value is None else str(value)


def _number_of(value: dict, waba_id: str) -> dict:
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    return {
        "waba_id": waba_id,
        "phone_number_id": _str(metadata.get("phone_number_id")),
        "display_phone_number": _str(metadata.get("display_phone_number")),
    }


def _digits(value) -> str:
    return re.sub(r"\D", "", _str(value))
