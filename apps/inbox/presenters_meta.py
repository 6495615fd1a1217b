"""What the thread shows of Meta's newer message shapes: a call, the answer to a
call-permission request, where a message came from (the WhatsApp Business app, its
imported history) and the ad or product a customer's message came from (referral).
No queries: computed from the message row."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils import formats, timezone
from django.utils.translation import gettext as _

CALL_LABELS = {
    ("in", "ringing"): lambda: _("Incoming call"),
    ("in", "accepted"): lambda: _("Call in progress"),
    ("in", "completed"): lambda: _("Incoming call"),
    ("in", "missed"): lambda: _("Missed call"),
    ("out", "ringing"): lambda: _("Calling the customer"),
    ("out", "accepted"): lambda: _("Call in progress"),
    ("out", "completed"): lambda: _("Outgoing call"),
    ("out", "missed"): lambda: _("Call not answered"),
    ("out", "rejected"): lambda: _("The customer declined the call"),
}


def duration_text(seconds) -> str:
    """A call's length as h:mm:ss or m:ss."""
    try:
        seconds = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    )


def call_view(message) -> dict:
    content = message.content or {}
    outcome = str(content.get("outcome") or "ringing")
    label = CALL_LABELS.get((message.direction, outcome)) or CALL_LABELS.get(
        (message.direction, "ringing")
    )
    return {
        "outcome": outcome,
        "label": label() if label else _("Call"),
        "duration": duration_text(content["duration"])
        if content.get("duration")
        else "",
    }


def call_buttons(kind: str, parameters) -> list[str]:
    """What the customer taps on a calling message we sent (or are writing): a voice
    call's button (its display_text, Meta's "Call Now" without one), or the request's
    choice to allow calls; the customer's call_permission_reply answers the latter."""
    if kind == "voice_call":
        text = parameters.get("display_text") if isinstance(parameters, dict) else ""
        return ["📞 " + (text or _("Call Now"))]
    if kind == "call_permission_request":
        return ["📞 " + _("Allow calls from the business?")]
    return []


def call_permission_answer(content: dict, zone) -> dict:
    reply = (
        content.get("call_permission_reply")
        if isinstance(content.get("call_permission_reply"), dict)
        else {}
    )
    accepted = str(reply.get("response", "")).lower() == "accept"
    description = ""
    try:
        until = datetime.fromtimestamp(int(reply["expiration_timestamp"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        until = None
    if accepted and until is not None:
        local = timezone.localtime(until, zone) if zone else until
        description = _("Until %(date)s") % {
            "date": formats.date_format(local, "SHORT_DATETIME_FORMAT")
        }
    if str(reply.get("response_source", "")).lower() == "automatic":
        description = " · ".join(
            p for p in (description, _("given by calling the business")) if p
        )
    return {
        "answer": _("The customer allows calls")
        if accepted
        else _("The customer declined calls"),
        "answer_description": description,
        "answer_kind": "call_permission_reply",
    }


def referral_view(referral) -> dict | None:
    """The click-to-WhatsApp ad or post a customer's message came from; links only over
    http(s)."""
    if not isinstance(referral, dict):
        return None

    def link(value):
        value = str(value or "")
        return value if urlsplit(value).scheme in ("http", "https") else ""

    kinds = {"ad": _("Ad"), "post": _("Post")}
    source_type = str(referral.get("source_type") or "")
    return {
        "source": kinds.get(source_type, source_type or _("Ad")),
        "headline": str(referral.get("headline") or ""),
        "body": str(referral.get("body") or ""),
        "url": link(referral.get("source_url")),
        "image": link(referral.get("thumbnail_url") or referral.get("image_url")),
        "source_id": str(referral.get("source_id") or ""),
    }
