"""WhatsApp Flows at Meta: the published Flows of a WhatsApp Business Account
(GET /{waba-id}/flows), the interactive `flow` message that opens one, and the
customer's answer (`nfm_reply.response_json`) as readable label/value rows.

Meta's rules for the message (Flows, "Sending a Flow"): `action.name` is "flow";
its parameters are `flow_message_version` "3", `flow_id` or `flow_name`, `flow_cta`
(at most 20 characters, no emoji), `mode` published (default) or draft, `flow_action`
navigate (default) or data_exchange, and for navigate a `flow_action_payload` with the
first `screen` and optional non-empty `data`; `flow_token` is the business's own
identifier, echoed back in the answer. Nothing here imports from the domain.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.core.errors import SendError

FLOW_MESSAGE_VERSION = "3"
FLOW_CTA_MAX = 20
FLOW_TOKEN_MAX = 512
SCREEN_MAX = 100
MODES = ("published", "draft")
FLOW_ACTIONS = ("navigate", "data_exchange")
PAGE_LIMIT = 100
PAGES_MAX = 10
# Pictographs and their modifiers: Meta refuses emoji in the CTA.
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D\U0001F1E6-\U0001F1FF]")


@dataclass(frozen=True)
class Flow:
    id: str
    name: str
    status: str
    categories: tuple[str, ...] = ()


def published_flows(client, waba_id: str) -> list[Flow]:
    """The account's Flows Meta lists as PUBLISHED, by name (following `paging.next`
    through `after`, at most PAGES_MAX pages)."""
    found, after = [], None
    for _page in range(PAGES_MAX):
        params = {"fields": "id,name,status,categories", "limit": str(PAGE_LIMIT)}
        if after:
            params["after"] = after
        answer = client.call("GET", waba_id, "flows", params=params)
        for item in answer.get("data") or []:
            if not isinstance(item, dict) or not item.get("id") or str(item.get("status", "")).upper() != "PUBLISHED":
                continue
            categories = item.get("categories") if isinstance(item.get("categories"), list) else []
            found.append(Flow(id=str(item["id"]), name=str(item.get("name") or item["id"]), status="PUBLISHED",
                              categories=tuple(str(c) for c in categories)))
        paging = answer.get("paging") if isinstance(answer.get("paging"), dict) else {}
        cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
        after = cursors.get("after")
        if not paging.get("next") or not after:
            break
    return sorted(found, key=lambda flow: flow.name.lower())


def _text(payload: dict, key: str, field: str, *, required: bool, max_length: int) -> str:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise SendError(field, "required", _("%(field)s is required.") % {"field": field})
        return ""
    if not isinstance(value, str):
        raise SendError(field, "invalid", _("%(field)s must be text.") % {"field": field})
    if len(value) > max_length:
        raise SendError(field, "too_long", _("%(field)s is too long: at most %(limit)d characters (it has %(length)d).")
                        % {"field": field, "limit": max_length, "length": len(value)})
    return value


def flow_action(payload: dict) -> dict:
    """Meta's `action` of a flow message from our input: flow_id or flow_name, flow_cta,
    mode, flow_action, screen, data, flow_token (made when not given)."""
    flow_id = _text(payload, "flow_id", "interactive.flow_id", required=False, max_length=64)
    flow_name = _text(payload, "flow_name", "interactive.flow_name", required=False, max_length=200)
    if bool(flow_id) == bool(flow_name):
        raise SendError("interactive.flow_id", "required", _("Name the Flow by flow_id or by flow_name (one of them)."))
    cta = _text(payload, "flow_cta", "interactive.flow_cta", required=True, max_length=FLOW_CTA_MAX)
    if _EMOJI.search(cta):
        raise SendError("interactive.flow_cta", "invalid", _("interactive.flow_cta cannot contain emoji."))
    mode = payload.get("mode") or "published"
    if mode not in MODES:
        raise SendError("interactive.mode", "invalid", _("interactive.mode is published or draft."))
    action = payload.get("flow_action") or "navigate"
    if action not in FLOW_ACTIONS:
        raise SendError("interactive.flow_action", "invalid", _("interactive.flow_action is navigate or data_exchange."))
    token = _text(payload, "flow_token", "interactive.flow_token", required=False, max_length=FLOW_TOKEN_MAX)
    parameters = {"flow_message_version": FLOW_MESSAGE_VERSION, "flow_token": token or uuid.uuid4().hex,
                  **({"flow_id": flow_id} if flow_id else {"flow_name": flow_name}),
                  "flow_cta": cta, "mode": mode, "flow_action": action}
    screen = _text(payload, "screen", "interactive.screen", required=False, max_length=SCREEN_MAX)
    data = payload.get("data")
    if action == "navigate":
        if data not in (None, "", {}) and not isinstance(data, dict):
            raise SendError("interactive.data", "invalid", _("interactive.data must be an object."))
        if data and not screen:
            raise SendError("interactive.screen", "required", _("interactive.screen is required when data is given."))
        if screen:
            parameters["flow_action_payload"] = {"screen": screen, **({"data": data} if data else {})}
    elif screen or data:
        raise SendError("interactive.screen", "not_allowed",
                        _("A data_exchange Flow starts where the business's endpoint says: no screen, no data."))
    return {"name": "flow", "parameters": parameters}


# --- The customer's answer -------------------------------------------------------

# Flow JSON's generated names: "screen_0_First_name_0" is the field "First name" of the
# first screen; a name the author chose ("delivery_date") reads as "Delivery date".
_GENERATED = re.compile(r"^screen_\d+_(.+?)_\d+$")


def answer_label(key: str) -> str:
    match = _GENERATED.match(key)
    words = (match.group(1) if match else key).replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def _value(value) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{answer_label(str(k))}: {_value(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def answer_rows(response: dict) -> list[tuple[str, str]]:
    """The answered form as (label, value) rows, in the order the customer filled it,
    without Meta's and the business's own keys (flow_token)."""
    if not isinstance(response, dict):
        return []
    return [(answer_label(str(key)), _value(value)) for key, value in response.items() if key != "flow_token"]
