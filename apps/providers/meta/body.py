"""A delivery's body as JSON, refused as a whole when it cannot be used safely.

A signed body is still outside input: it may be invalid UTF-8 or JSON, or nested
so deeply that decoding it, or later encoding a part of it into a JSON column,
runs out of stack (RecursionError). Meta's payloads are a dozen levels deep, so
anything past MAX_DEPTH is refused before any part of it reaches the services.
"""

from __future__ import annotations

import json

from ..base import UnusableBody

MAX_DEPTH = 64


class MalformedBody(UnusableBody):
    """The body cannot be decoded into a payload we may process."""


def decode(body: bytes):
    """`body` as JSON, or MalformedBody saying why not (the view's check: no walk)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise MalformedBody("JSON nested too deeply") from None
    except ValueError:  # also invalid UTF-8 (UnicodeDecodeError)
        raise MalformedBody("body is not JSON") from None


def body_payload(body: bytes):
    """The decoded JSON of `body` for processing, or MalformedBody saying why not."""
    payload = decode(body)
    # Fewer opening brackets than MAX_DEPTH cannot nest deeper (Meta's bodies have a
    # dozen or two): only a body with more is walked.
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and _deeper_than(payload, MAX_DEPTH):
        raise MalformedBody(f"JSON nested deeper than {MAX_DEPTH} levels")
    return payload


def _deeper_than(value, limit: int) -> bool:
    """True when containers nest more than `limit` levels (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values() if isinstance(child, (dict, list)))
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current if isinstance(child, (dict, list)))
    return False
