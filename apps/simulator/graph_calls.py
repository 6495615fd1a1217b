"""Meta's checks of the calling interactive messages, as the simulated Graph API
applies them to POST /{phone-number-id}/messages (graph_commerce.check_interactive
calls this for their types):

- `call_permission_request`: a body of text and action.name "call_permission_request";
  no header, no footer, no parameters (WhatsApp draws the request itself);
- `voice_call`: a body and action.name "voice_call", with optional parameters
  display_text (at most 20 characters), ttl_minutes (1 to 43200) and payload (at most
  512 characters); no header, no footer.

Meta answers 131008 (missing) or 100 (invalid parameter) to these.
"""

from __future__ import annotations

from .graph import GraphError, _param


def _missing(what: str) -> GraphError:
    return GraphError(131008, "(#131008) Required parameter is missing", details=what)


def check(content: dict) -> None:
    kind = content.get("type")
    if not (content.get("body") or {}).get("text"):
        raise _missing("interactive.body.text")
    if content.get("header") or content.get("footer"):
        raise _param(f"A {kind} message takes no header and no footer.")
    action = content.get("action") or {}
    if action.get("name") != kind:
        raise _param(f"action.name must be '{kind}'.")
    parameters = action.get("parameters")
    if kind == "call_permission_request":
        if parameters:
            raise _param("A call_permission_request action takes no parameters.")
        return
    if parameters is None:
        return
    if not isinstance(parameters, dict) or set(parameters) - {"display_text", "ttl_minutes", "payload"}:
        raise _param("voice_call parameters are display_text, ttl_minutes and payload.")
    text = parameters.get("display_text")
    if text is not None and (not isinstance(text, str) or not text or len(text) > 20):
        raise _param("display_text: text of 1 to 20 characters.")
    ttl = parameters.get("ttl_minutes")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 43200):
        raise _param("ttl_minutes: a whole number from 1 to 43200.")
    payload = parameters.get("payload")
    if payload is not None and (not isinstance(payload, str) or len(payload) > 512):
        raise _param("payload: text of at most 512 characters.")
