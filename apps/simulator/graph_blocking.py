"""The simulated Block Users API: POST, DELETE and GET /{phone-number-id}/block_users.

As Meta: a customer is named by `user` (a phone-based WhatsApp id) or `user_id` (a
business-scoped user id); at most 1,000 per call; only customers who wrote to the
number in the last 24 hours can be blocked (the others fail with 139100, answered 400
with the per-user list beside the error); unblocking anyone succeeds; the list pages
with cursors. A number's blocklist is what the accepted calls of the request log made
it (every answer names the users it added or removed), so it needs no table of its own.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from .graph import (
    GraphError,
    GraphResponse,
    _authorise,
    _graph_view,
    _json_body,
    _number,
    _param,
)
from .models import SimulatedMessage, SimulatedRequest

MAX_PER_CALL = 1000
PAGE_LIMIT = 100
_WA_ID = re.compile(r"\+?\d{6,20}")
_USER_ID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")


def blocklist(phone_number_id: str) -> list[dict]:
    """The number's blocked users, oldest first: each {"wa_id"} or {"user_id"}."""
    blocked: dict[str, dict] = {}
    calls = SimulatedRequest.objects.filter(
        path__endswith=f"/{phone_number_id}/block_users", method__in=("POST", "DELETE")
    ).order_by("id")
    for method, response in calls.values_list("method", "response"):
        lists = (response or {}).get("block_users") or {}
        for user in (
            lists.get("added_users" if method == "POST" else "removed_users") or []
        ):
            key = user.get("wa_id") or user.get("user_id")
            if method == "POST":
                blocked[key] = {k: user[k] for k in ("wa_id", "user_id") if user.get(k)}
            else:
                blocked.pop(key, None)
    return list(blocked.values())


def _targets(body: dict) -> list[tuple[str, str]]:
    if body.get("messaging_product") != "whatsapp":
        raise _param("messaging_product must be 'whatsapp'.")
    users = body.get("block_users")
    if not isinstance(users, list) or not users:
        raise GraphError(
            131008, "(#131008) Required parameter is missing", details="block_users"
        )
    if len(users) > MAX_PER_CALL:
        raise _param(f"block_users: at most {MAX_PER_CALL} users per request.")
    targets = []
    for user in users:
        user = user if isinstance(user, dict) else {}
        if _WA_ID.fullmatch(str(user.get("user", ""))):
            targets.append(("wa_id", str(user["user"]).lstrip("+")))
        elif _USER_ID.fullmatch(str(user.get("user_id", ""))):
            targets.append(("user_id", str(user["user_id"])))
        else:
            raise _param(
                "Each of block_users needs 'user' (a phone number) or 'user_id' (a business-scoped user id)."
            )
    return targets


def _wrote_lately(phone_number_id: str, customer: str) -> bool:
    return SimulatedMessage.objects.filter(
        phone_number_id=phone_number_id,
        customer=customer,
        direction=SimulatedMessage.Direction.FROM_CUSTOMER,
        created_at__gte=timezone.now() - timedelta(hours=24),
    ).exists()


def _block(phone_number_id: str, targets) -> GraphResponse:
    added, failed = [], []
    for kind, value in targets:
        if _wrote_lately(phone_number_id, value):
            added.append({"input": value, kind: value})
        else:
            failed.append(
                {
                    "input": value,
                    "errors": [
                        {
                            "message": "Failed to block user",
                            "code": 139100,
                            "error_data": {
                                "details": "Users can only be blocked if they have sent a message to the business "
                                "in the last 24 hours."
                            },
                        }
                    ],
                }
            )
    answer = {"messaging_product": "whatsapp", "block_users": {"added_users": added}}
    if not failed:
        return GraphResponse(answer)
    answer["block_users"]["failed_users"] = failed
    error = GraphError(
        139100,
        "(#139100) Failed to block/unblock users",
        details="Failed to block some users, see the block_users response list for details",
    )
    body = error.response().data
    return GraphResponse({**answer, **body}, status=400)


def _list(request, phone_number_id: str) -> GraphResponse:
    try:
        limit = max(1, min(int(request.GET.get("limit", PAGE_LIMIT)), 1000))
        start = int(request.GET.get("after") or 0)
    except ValueError as exc:
        raise _param("limit and after must be numbers.") from exc
    users = blocklist(phone_number_id)
    page = users[start : start + limit]
    answer = {"data": [{"messaging_product": "whatsapp", **user} for user in page]}
    if page:
        answer["paging"] = {
            "cursors": {"before": str(start), "after": str(start + len(page))}
        }
        if start + len(page) < len(users):
            params = request.GET.copy()
            params["after"] = str(start + len(page))
            answer["paging"]["next"] = request.build_absolute_uri(
                f"{request.path}?{params.urlencode()}"
            )
    return GraphResponse(answer)


@_graph_view
def block_users(request, object_id):
    number = _number(object_id, request)
    _authorise(request, number)
    if request.method == "GET":
        return _list(request, object_id)
    if request.method not in ("POST", "DELETE"):
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    targets = _targets(_json_body(request))
    if request.method == "POST":
        return _block(object_id, targets)
    removed = [{"input": value, kind: value} for kind, value in targets]
    return GraphResponse(
        {"messaging_product": "whatsapp", "block_users": {"removed_users": removed}}
    )
