"""The simulated business profile and conversational automation of a number:
GET / POST /{phone-number-id}/whatsapp_business_profile and
POST /{phone-number-id}/conversational_automation (read back through
GET /{phone-number-id}?fields=conversational_automation, graph_numbers.py).

Meta's checks: messaging_product on the profile; about at most 139 characters, address
256, description 512, email 128 and an address, at most 2 websites of 256 each with
http(s), a known vertical; at most 4 ice breakers of 80 characters, at most 30 commands
(name 32, description 256); a profile_picture_handle must be the handle of a whole JPEG
or PNG upload (graph_uploads.py). What a number holds is the last accepted call's, read
from the request log; its photo is the last accepted handle's upload, served at a public
`profile_picture_url` as Meta's CDN serves it (`profile_picture`).
"""

from __future__ import annotations

import re

from django.http import Http404, HttpResponse
from django.urls import reverse

from apps.providers.meta import profile as meta_profile

from .graph import (
    GraphError,
    GraphResponse,
    _authorise,
    _graph_view,
    _json_body,
    _number,
    _param,
)
from .models import SimulatedRequest, SimulatedUpload

# Meta's documented limits, as the product checks them before a call.
VERTICALS = frozenset(meta_profile.VERTICALS)
LIMITS = {"about": meta_profile.ABOUT_MAX, "address": meta_profile.ADDRESS_MAX, "description": meta_profile.DESCRIPTION_MAX,
          "email": meta_profile.EMAIL_MAX}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _last_body(phone_number_id: str, edge: str) -> dict:
    body = (
        SimulatedRequest.objects.filter(
            method="POST", status_code=200, path__endswith=f"/{phone_number_id}/{edge}"
        )
        .order_by("-id")
        .values_list("body", flat=True)
        .first()
    )
    return body if isinstance(body, dict) else {}


def automation_state(phone_number_id: str) -> dict:
    body = _last_body(phone_number_id, "conversational_automation")
    return {
        "enable_welcome_message": body.get("enable_welcome_message") is True,
        "prompts": body.get("prompts") or [],
        "commands": body.get("commands") or [],
    }


def _profile_check(body: dict) -> None:
    if body.get("messaging_product") != "whatsapp":
        raise _param("messaging_product must be 'whatsapp'.")
    for name, most in LIMITS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > most):
            raise _param(f"{name}: text of at most {most} characters.")
    if body.get("email") and not _EMAIL.fullmatch(body["email"]):
        raise _param("email: not a valid email address.")
    websites = body.get("websites")
    if websites is not None and (
        not isinstance(websites, list)
        or len(websites) > 2
        or not all(
            isinstance(w, str) and len(w) <= 256 and re.match(r"https?://", w)
            for w in websites
        )
    ):
        raise _param(
            "websites: at most 2 URLs starting with http:// or https://, 256 characters each."
        )
    if body.get("vertical") is not None and body["vertical"] not in VERTICALS:
        raise _param("vertical: not a known industry.")
    handle = body.get("profile_picture_handle")
    if handle is not None and not SimulatedUpload.objects.filter(
        handle=str(handle), file_type__in=("image/jpeg", "image/jpg", "image/png")
    ).exists():
        raise _param("profile_picture_handle: not the handle of an uploaded JPEG or PNG image.")


def _picture_url(request, phone_number_id: str) -> str:
    body = (
        SimulatedRequest.objects.filter(
            method="POST", status_code=200, path__endswith=f"/{phone_number_id}/whatsapp_business_profile",
            body__has_key="profile_picture_handle",
        )
        .order_by("-id")
        .values_list("body", flat=True)
        .first()
    )
    upload = SimulatedUpload.objects.filter(handle=str((body or {}).get("profile_picture_handle", ""))).first()
    if upload is None:
        return "https://pps.whatsapp.net/v/simulated.jpg"
    return request.build_absolute_uri(reverse("simulator:profile-picture", args=[upload.pk]))


def profile_picture(request, upload_id: int):
    """A profile photo as Meta's CDN serves it: public, the image's own type."""
    upload = SimulatedUpload.objects.filter(pk=upload_id).exclude(handle="").first()
    if upload is None or not upload.file_type.startswith("image/"):
        raise Http404
    return HttpResponse(bytes(upload.content), content_type=upload.file_type.replace("image/jpg", "image/jpeg"))


@_graph_view
def business_profile(request, object_id):
    number = _number(object_id, request)
    _authorise(request, number)
    if request.method == "POST":
        _profile_check(_json_body(request))
        return GraphResponse({"success": True})
    if request.method != "GET":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    body = _last_body(object_id, "whatsapp_business_profile")
    profile = {
        "messaging_product": "whatsapp",
        "about": body.get("about", "Hello, we answer here."),
        "address": body.get("address", ""),
        "description": body.get("description", ""),
        "email": body.get("email", ""),
        "websites": body.get("websites", []),
        "vertical": body.get("vertical", "UNDEFINED"),
        "profile_picture_url": _picture_url(request, object_id),
    }
    wanted = [f for f in (request.GET.get("fields") or "").split(",") if f]
    if wanted:
        profile = {
            k: v for k, v in profile.items() if k in wanted or k == "messaging_product"
        }
    return GraphResponse({"data": [profile]})


@_graph_view
def conversational_automation(request, object_id):
    number = _number(object_id, request)
    _authorise(request, number)
    if request.method != "POST":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    body = _json_body(request)
    prompts, commands = body.get("prompts", []), body.get("commands", [])
    if (
        not isinstance(prompts, list)
        or len(prompts) > 4
        or not all(isinstance(p, str) and 0 < len(p) <= 80 for p in prompts)
    ):
        raise _param("prompts: at most 4 ice breakers of 1 to 80 characters.")
    if (
        not isinstance(commands, list)
        or len(commands) > 30
        or not all(
            isinstance(c, dict)
            and isinstance(c.get("command_name"), str)
            and 0 < len(c["command_name"]) <= 32
            and isinstance(c.get("command_description"), str)
            and 0 < len(c["command_description"]) <= 256
            for c in commands
        )
    ):
        raise _param(
            "commands: at most 30, each with command_name (32) and command_description (256)."
        )
    if "enable_welcome_message" in body and not isinstance(
        body["enable_welcome_message"], bool
    ):
        raise _param("enable_welcome_message must be true or false.")
    return GraphResponse({"success": True})
