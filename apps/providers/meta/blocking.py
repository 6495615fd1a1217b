"""Meta's Block Users API: block, unblock and list the customers blocked on a number.

POST, DELETE and GET /{phone-number-id}/block_users (synchronous at Meta). A customer
is named by their phone-based WhatsApp id (`user`) or, for one who hides their number
behind a username, by their business-scoped user id (`user_id`). Meta blocks only
customers who wrote to the number in the last 24 hours; unblocking has no such limit.
A refusal is a GraphAPIError: 139100 (some or all users failed; its details say why),
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
