"""A number's WhatsApp business profile and conversational automation at Meta.

GET / POST /{phone-number-id}/whatsapp_business_profile (about, address, description,
email, websites, vertical; the photo by an upload handle), and
GET /{phone-number-id}?fields=conversational_automation with
POST /{phone-number-id}/conversational_automation (ice breakers, commands, the welcome
message). Meta's limits are here for the forms that check input before a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .client import GraphClient

PROFILE_FIELDS = (
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
)
ABOUT_MAX, ADDRESS_MAX, DESCRIPTION_MAX, EMAIL_MAX, WEBSITE_MAX, WEBSITES_MAX = (
    139,
    256,
    512,
    128,
    256,
    2,
)
VERTICALS = (
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "NOT_A_BIZ",
)
PROMPTS_MAX, PROMPT_MAX = 4, 80
COMMANDS_MAX, COMMAND_NAME_MAX, COMMAND_DESCRIPTION_MAX = 30, 32, 256


@dataclass(frozen=True)
class BusinessProfile:
    about: str = ""
    address: str = ""
    description: str = ""
    email: str = ""
    websites: tuple[str, ...] = ()
    vertical: str = ""
    profile_picture_url: str = ""


@dataclass(frozen=True)
class Automation:
    enable_welcome_message: bool = False
    prompts: tuple[str, ...] = ()
    commands: tuple[tuple[str, str], ...] = ()  # (name, description)
    extra: dict = field(default_factory=dict)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def profile_get(client: GraphClient) -> BusinessProfile:
    answer = client.call(
        "GET",
        client.number.phone_number_id,
        "whatsapp_business_profile",
        params={"fields": ",".join(PROFILE_FIELDS)},
    )
    data = answer.get("data")
    row = (
        data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    )
    websites = row.get("websites") if isinstance(row.get("websites"), list) else []
    return BusinessProfile(
        about=_text(row.get("about")),
        address=_text(row.get("address")),
        description=_text(row.get("description")),
        email=_text(row.get("email")),
        websites=tuple(w for w in websites if isinstance(w, str)),
        vertical=_text(row.get("vertical")),
        profile_picture_url=_text(row.get("profile_picture_url")),
    )


def profile_set(
    client: GraphClient, profile: BusinessProfile, *, picture_handle: str = ""
) -> None:
    """Set every field of the profile (an empty one clears it at Meta)."""
    body = {
        "messaging_product": "whatsapp",
        "about": profile.about,
        "address": profile.address,
        "description": profile.description,
        "email": profile.email,
        "websites": list(profile.websites),
    }
    if profile.vertical:
        body["vertical"] = profile.vertical
    if picture_handle:
        body["profile_picture_handle"] = picture_handle
    client.call(
        "POST", client.number.phone_number_id, "whatsapp_business_profile", json=body
    )


def automation_get(client: GraphClient) -> Automation:
    answer = client.call(
        "GET",
        client.number.phone_number_id,
        params={"fields": "conversational_automation"},
    )
    data = (
        answer.get("conversational_automation")
        if isinstance(answer.get("conversational_automation"), dict)
        else {}
    )
    prompts = data.get("prompts") if isinstance(data.get("prompts"), list) else []
    commands = data.get("commands") if isinstance(data.get("commands"), list) else []
    return Automation(
        enable_welcome_message=data.get("enable_welcome_message") is True,
        prompts=tuple(p for p in prompts if isinstance(p, str)),
        commands=tuple(
            (_text(c.get("command_name")), _text(c.get("command_description")))
            for c in commands
            if isinstance(c, dict)
        ),
    )


def automation_set(client: GraphClient, automation: Automation) -> None:
    client.call(
        "POST",
        client.number.phone_number_id,
        "conversational_automation",
        json={
            "enable_welcome_message": automation.enable_welcome_message,
            "prompts": list(automation.prompts),
            "commands": [
                {"command_name": n, "command_description": d}
                for n, d in automation.commands
            ],
        },
    )
