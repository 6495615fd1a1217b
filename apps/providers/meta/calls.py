"""Calling at Meta: the interactive messages that ask a customer for permission to call
(`call_permission_request`) and that carry a button the customer taps to call the
business (`voice_call`).

Meta's rules ("Calling", "Send call permission request" and "Send a voice call button"):
a call permission request is a body of text and `action.name` "call_permission_request",
nothing else (the button and its text are WhatsApp's own; no header, no footer). A voice
call message is a body and `action.name` "voice_call" with optional parameters:
`display_text` (the button's label, at most VOICE_CALL_TEXT_MAX characters, Meta shows
"Call Now" without it), `ttl_minutes` (how long the button works, TTL_MIN to TTL_MAX
minutes, seven days without it) and `payload` (the business's own string, at most
VOICE_CALL_PAYLOAD_MAX characters, echoed as `cta_payload` in the `calls` webhook).
Nothing here imports from the domain.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.core.errors import SendError

CALL_KINDS = ("call_permission_request", "voice_call")
VOICE_CALL_TEXT_MAX = 20
VOICE_CALL_PAYLOAD_MAX = 512
TTL_MIN = 1
TTL_MAX = 43200  # 30 days
TTL_DEFAULT = 10080  # 7 days, Meta's default


def _no_header_or_footer(payload: dict, kind: str) -> None:
    for part in ("header", "footer"):
        if payload.get(part):
            raise SendError(f"interactive.{part}", "not_allowed",
                            _("A %(kind)s message has a body only: no header, no footer.") % {"kind": kind})


def call_permission_request_action(payload: dict) -> dict:
    _no_header_or_footer(payload, "call_permission_request")
    return {"name": "call_permission_request"}


def voice_call_action(payload: dict) -> dict:
    _no_header_or_footer(payload, "voice_call")
    parameters: dict = {}
    text = payload.get("display_text")
    if text not in (None, ""):
        if not isinstance(text, str) or not text.strip():
            raise SendError("interactive.display_text", "invalid", _("interactive.display_text must be text."))
        if len(text.strip()) > VOICE_CALL_TEXT_MAX:
            raise SendError("interactive.display_text", "too_long",
                            _("%(field)s is too long: at most %(limit)d characters (it has %(length)d).")
                            % {"field": "interactive.display_text", "limit": VOICE_CALL_TEXT_MAX,
                               "length": len(text.strip())})
        parameters["display_text"] = text.strip()
    ttl = payload.get("ttl_minutes")
    if ttl not in (None, ""):
        if isinstance(ttl, str) and ttl.strip().isdigit():
            ttl = int(ttl.strip())
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not TTL_MIN <= ttl <= TTL_MAX:
            raise SendError("interactive.ttl_minutes", "invalid",
                            _("interactive.ttl_minutes is a whole number of minutes from %(low)d to %(high)d "
                              "(30 days).") % {"low": TTL_MIN, "high": TTL_MAX})
        parameters["ttl_minutes"] = ttl
    tracking = payload.get("payload")
    if tracking not in (None, ""):
        if not isinstance(tracking, str):
            raise SendError("interactive.payload", "invalid", _("interactive.payload must be text."))
        if len(tracking) > VOICE_CALL_PAYLOAD_MAX:
            raise SendError("interactive.payload", "too_long",
                            _("%(field)s is too long: at most %(limit)d characters (it has %(length)d).")
                            % {"field": "interactive.payload", "limit": VOICE_CALL_PAYLOAD_MAX,
                               "length": len(tracking)})
        parameters["payload"] = tracking
    return {"name": "voice_call", **({"parameters": parameters} if parameters else {})}
