"""The customer's side of a call-permission request on the simulated phone: allowing or
declining calls (`interactive.call_permission_reply`, replying to the request), in the
shape Meta's webhook delivers it: response accept or reject, an accepted permission's
expiration (7 days on), is_permanent false, response_source user_action."""

from __future__ import annotations

import time

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _

PERMISSION_SECONDS = 7 * 24 * 3600


def permission_reply(request, target) -> dict:
    if (target.payload.get("interactive") or {}).get("type") != "call_permission_request":
        raise BadRequest(_("Pick a call permission request of the business."))
    accepted = request.POST.get("response") == "accept"
    reply = {"response": "accept" if accepted else "reject", "is_permanent": False,
             "response_source": "user_action"}
    if accepted:
        reply["expiration_timestamp"] = int(time.time()) + PERMISSION_SECONDS
    return {"type": "call_permission_reply", "call_permission_reply": reply}
