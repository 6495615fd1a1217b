"""A business number at Meta: its status (GET /{phone-number-id}), registering it
for the Cloud API (POST /{phone-number-id}/register) and its two-step verification PIN
(POST /{phone-number-id})."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .client import GraphAPIError, GraphClient

STATUS_FIELDS = (
    "verified_name",
    "display_phone_number",
    "quality_rating",
    "messaging_limit_tier",
    "throughput",
    "name_status",
    "code_verification_status",
    "platform_type",
    "status",
)
_PIN = re.compile(r"\d{6}", re.ASCII)


@dataclass(frozen=True)
class NumberStatus:
    verified_name: str = ""
    display_phone_number: str = ""
    quality_rating: str = ""
    messaging_limit_tier: str = ""
    throughput_level: str = ""
    name_status: str = ""
    code_verification_status: str = ""
    platform_type: str = ""
    status: str = ""


def _text(value) -> str:
    return value.strip()[:200] if isinstance(value, str) else ""


def status(client: GraphClient) -> NumberStatus:
    """The number's status as Meta holds it now."""
    answer = client.call(
        "GET", client.number.phone_number_id, params={"fields": ",".join(STATUS_FIELDS)}
    )
    throughput = (
        answer.get("throughput") if isinstance(answer.get("throughput"), dict) else {}
    )
    return NumberStatus(
        verified_name=_text(answer.get("verified_name")),
        display_phone_number=_text(answer.get("display_phone_number")),
        quality_rating=_text(answer.get("quality_rating")),
        messaging_limit_tier=_text(answer.get("messaging_limit_tier")),
        throughput_level=_text(throughput.get("level")),
        name_status=_text(answer.get("name_status")),
        code_verification_status=_text(answer.get("code_verification_status")),
        platform_type=_text(answer.get("platform_type")),
        status=_text(answer.get("status")),
    )


def _pin(pin: str) -> str:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise GraphAPIError(
            "The two-step verification PIN is six digits", retryable=False
        )
    return pin


def register(client: GraphClient, *, pin: str) -> None:
    """Register the number for the Cloud API, setting (or giving) its two-step PIN."""
    client.call(
        "POST",
        client.number.phone_number_id,
        "register",
        json={"messaging_product": "whatsapp", "pin": _pin(pin)},
    )


def pin_set(client: GraphClient, *, pin: str) -> None:
    """Set the number's two-step verification PIN."""
    client.call("POST", client.number.phone_number_id, json={"pin": _pin(pin)})
