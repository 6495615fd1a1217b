"""The simulated business number: GET /{phone-number-id} (its status fields),
POST /{phone-number-id} (the two-step verification PIN) and
POST /{phone-number-id}/register.

As Meta: a PIN is six digits (else 100 with details); registering a number that has a
PIN needs that PIN (else 133005, "Two step verification PIN mismatch"); fields are
chosen with `fields`. The number's PIN and registration are what its accepted calls
of the request log made them, so no table is needed.
"""

from __future__ import annotations

import re

from .graph import (
    GraphError,
    GraphResponse,
    _authorise,
    _graph_view,
    _json_body,
    _number,
    _param,
)
from .graph_profile import automation_state
from .models import SimulatedRequest

_PIN = re.compile(r"\d{6}", re.ASCII)
FIELDS = (
    "verified_name",
    "display_phone_number",
    "quality_rating",
    "messaging_limit_tier",
    "throughput",
    "name_status",
    "code_verification_status",
    "platform_type",
    "status",
    "id",
    "conversational_automation",
)


def current_pin(phone_number_id: str) -> str:
    """The number's PIN: the last one an accepted call set ("" when none)."""
    for path, body in (
        SimulatedRequest.objects.filter(
            method="POST",
            status_code=200,
            path__regex=rf"/{re.escape(phone_number_id)}(/register)?$",
        )
        .order_by("-id")
        .values_list("path", "body")
    ):
        if isinstance(body, dict) and body.get("pin"):
            return str(body["pin"])
    return ""


def registered(phone_number_id: str) -> bool:
    return SimulatedRequest.objects.filter(
        method="POST", status_code=200, path__endswith=f"/{phone_number_id}/register"
    ).exists()


def _pin_of(body: dict) -> str:
    pin = body.get("pin")
    if pin is None:
        raise GraphError(
            131008, "(#131008) Required parameter is missing", details="pin"
        )
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise _param("pin must be a 6-digit number.")
    return pin


def _status(request, number) -> GraphResponse:
    wanted = [f for f in (request.GET.get("fields") or "").split(",") if f] or [
        "verified_name",
        "display_phone_number",
        "id",
    ]
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise GraphError(
            100,
            f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type "
            "(WhatsAppBusinessPhoneNumber)",
            type="OAuthException",
        )
    values = {
        "id": number.phone_number_id,
        "verified_name": number.name or "Simulated business",
        "display_phone_number": number.display_phone_number,
        "quality_rating": "GREEN",
        "messaging_limit_tier": "TIER_1K",
        "throughput": {"level": "STANDARD"},
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API"
        if registered(number.phone_number_id)
        else "NOT_APPLICABLE",
        "status": "CONNECTED" if registered(number.phone_number_id) else "PENDING",
    }
    if "conversational_automation" in wanted:
        values["conversational_automation"] = automation_state(number.phone_number_id)
    return GraphResponse({f: values[f] for f in dict.fromkeys([*wanted, "id"])})


@_graph_view
def number_node(request, object_id):
    number = _number(object_id, request)
    _authorise(request, number)
    if request.method == "GET":
        return _status(request, number)
    if request.method != "POST":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    _pin_of(_json_body(request))
    return GraphResponse({"success": True})


@_graph_view
def register(request, object_id):
    number = _number(object_id, request)
    _authorise(request, number)
    if request.method != "POST":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    body = _json_body(request)
    if body.get("messaging_product") != "whatsapp":
        raise _param("messaging_product must be 'whatsapp'.")
    pin = _pin_of(body)
    known = current_pin(object_id)
    if known and pin != known:
        raise GraphError(
            133005,
            "(#133005) Two step verification PIN mismatch",
            details="The PIN does not match the number's two-step verification PIN.",
        )
    return GraphResponse({"success": True})
