"""A number's WhatsApp business profile and conversational automation at Meta.

GET / POST /{phone-number-id}/whatsapp_business_profile (about, address, description,
email, websites, vertical; the photo by the handle of a Resumable Upload, uploads.py,
sent as `profile_picture_handle`; Meta answers its `profile_picture_url`), and
GET /{phone-number-id}?fields=conversational_automation with
POST /{phone-number-id}/conversational_automation (ice breakers, commands, the welcome
message). Meta's limits are here for the forms that check input before a call.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from .client import GraphClient
from .uploads import upload_file

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
# The profile photo: a JPEG or PNG of at most 5 MB, at least 192 x 192 pixels (WhatsApp
# shows it cropped to a circle and keeps it at 640 x 640).
PICTURE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
PICTURE_SIZE_MAX = 5 * 1024 * 1024
PICTURE_SIDE_MIN = 192
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


class PictureRefused(ValueError):
    """A profile photo Meta would not take; the message says why."""


def picture_type(content: bytes) -> str:
    """The MIME type of `content` as a profile photo (read from the image, not its name),
    or PictureRefused naming what Meta's limits refuse."""
    if not content:
        raise PictureRefused(_("The photo is empty."))
    if len(content) > PICTURE_SIZE_MAX:
        raise PictureRefused(_("The photo is %(size).1f MB: WhatsApp takes at most 5 MB.")
                             % {"size": len(content) / (1024 * 1024)})
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, ValueError):
        kind, width, height = None, 0, 0
    if kind not in PICTURE_TYPES:
        raise PictureRefused(_("The photo must be a JPEG or PNG image."))
    if min(width, height) < PICTURE_SIDE_MIN:
        raise PictureRefused(_("The photo is %(width)d x %(height)d pixels: WhatsApp needs at least 192 x 192 "
                               "(640 x 640 is best).") % {"width": width, "height": height})
    return PICTURE_TYPES[kind]


def picture_upload(client: GraphClient, content: bytes, *, file_name: str = "") -> str:
    """Upload a profile photo through the Resumable Upload API under the app of
    META_APP_ID: the handle for profile_set. PictureRefused before any call when Meta's
    limits refuse it or no app id is set."""
    file_type = picture_type(content)
    if not settings.META_APP_ID:
        raise PictureRefused(_("Uploading a photo needs the Meta app's id: set META_APP_ID."))
    return upload_file(client, settings.META_APP_ID, content, file_type=file_type, file_name=file_name)


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
