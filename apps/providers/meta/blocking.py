"""Meta's Block Users API: block, unblock and list the customers blocked on a number.

POST, DELETE and GET /{phone-number-id}/block_users (synchronous at Meta). A customer
is named by their phone-based WhatsApp id (`user`) or, for one who hides their number
behind a username, by their business-scoped user id (`user_id`). Meta blocks only
customers who wrote to the number in the last 24 hours; unblocking has no such limit.
A refusal is a GraphAPIError: 139100 (some or all users failed: the answer lists each
refused user with Meta's reason, `refused_users`, beside the users it did change,
`done_users`),
139101 (the blocklist's 64,000 limit), 139102 (the list changed while paging: read it
again), 139103 (Meta's internal error: try again).
"""

from __future__ import annotations

from dataclasses import dataclass

from .client import GraphAPIError, GraphClient

EDGE = "block_users"
# Meta takes at most this many users per call.
MAX_PER_CALL = 1000


@dataclass(frozen=True)
class BlockTarget:
    """Who to block or unblock: a phone-based WhatsApp id, or a business-scoped user id."""

    wa_id: str = ""
    user_id: str = ""

    def as_graph(self) -> dict:
        return {"user": self.wa_id} if self.wa_id else {"user_id": self.user_id}


@dataclass(frozen=True)
class BlockedUser:
    """A customer in an answer of the Block Users API."""

    input: str
    wa_id: str = ""
    user_id: str = ""


@dataclass(frozen=True)
class BlockedPage:
    """One page of a number's blocklist, and the cursor of the next (or "")."""

    users: tuple[BlockedUser, ...]
    after: str = ""


@dataclass(frozen=True)
class RefusedUser:
    """A customer Meta refused to block or unblock, with its reason."""

    input: str
    code: int | None = None
    message: str = ""
    details: str = ""


def _body(targets: list[BlockTarget]) -> dict:
    if not targets or len(targets) > MAX_PER_CALL:
        raise GraphAPIError(
            f"Block or unblock between 1 and {MAX_PER_CALL} users per call",
            retryable=False,
        )
    return {
        "messaging_product": "whatsapp",
        "block_users": [t.as_graph() for t in targets],
    }


def _users(items) -> tuple[BlockedUser, ...]:
    users = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            users.append(
                BlockedUser(
                    input=str(
                        item.get("input")
                        or item.get("wa_id")
                        or item.get("user_id")
                        or ""
                    ),
                    wa_id=str(item.get("wa_id") or ""),
                    user_id=str(item.get("user_id") or ""),
                )
            )
    return tuple(users)


def block(client: GraphClient, targets: list[BlockTarget]) -> tuple[BlockedUser, ...]:
    """Block `targets` on the client's number: the users Meta added to its blocklist."""
    answer = client.call(
        "POST", client.number.phone_number_id, EDGE, json=_body(targets)
    )
    return _users((answer.get("block_users") or {}).get("added_users"))


def unblock(client: GraphClient, targets: list[BlockTarget]) -> tuple[BlockedUser, ...]:
    """Unblock `targets` on the client's number: the users Meta removed from its blocklist."""
    answer = client.call(
        "DELETE", client.number.phone_number_id, EDGE, json=_body(targets)
    )
    return _users((answer.get("block_users") or {}).get("removed_users"))


def blocked(client: GraphClient, *, limit: int = 100, after: str = "") -> BlockedPage:
    """One page of the number's blocklist (`after`: the cursor a previous page gave)."""
    params = {"limit": max(1, min(int(limit), 1000))}
    if after:
        params["after"] = after
    answer = client.call("GET", client.number.phone_number_id, EDGE, params=params)
    paging = answer.get("paging") if isinstance(answer.get("paging"), dict) else {}
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    return BlockedPage(
        users=_users(answer.get("data")),
        after=str(cursors.get("after") or "") if paging.get("next") else "",
    )


def _lists(error: GraphAPIError) -> dict:
    lists = error.answer.get("block_users")
    return lists if isinstance(lists, dict) else {}


def refused_users(error: GraphAPIError) -> tuple[RefusedUser, ...]:
    """The users a refused block or unblock names as failed, each with Meta's first
    reason for it (empty when the answer has no such list)."""
    refused = []
    for item in _lists(error).get("failed_users") or []:
        if not isinstance(item, dict):
            continue
        reasons = item.get("errors") if isinstance(item.get("errors"), list) else []
        first = next((r for r in reasons if isinstance(r, dict)), {})
        data = first.get("error_data") if isinstance(first.get("error_data"), dict) else {}
        try:
            code = int(first["code"]) if "code" in first else None
        except (TypeError, ValueError):
            code = None
        who = item.get("input") or item.get("wa_id") or item.get("user_id")
        if who is None or who == "":
            continue  # names nobody
        refused.append(RefusedUser(
            input=str(who),
            code=code, message=str(first.get("message") or ""), details=str(data.get("details") or ""),
        ))
    return tuple(refused)


def done_users(error: GraphAPIError) -> tuple[BlockedUser, ...]:
    """The users a partly refused call did block (or unblock) all the same."""
    lists = _lists(error)
    return _users(lists.get("added_users") or lists.get("removed_users"))
