"""Our message id in Meta's `biz_opaque_callback_data`.

Every send carries it (sending/payload.py) and Meta echoes it in each status of that
message (`statuses[].biz_opaque_callback_data`), next to the wamid. A send whose
answer was lost (a worker died, a read timeout) has no wamid stored; its first
status then tells which of our messages that wamid is (services/statuses.py).

The id is signed with the project's SECRET_KEY (django.core.signing, its own salt):
a string of this shape sent by anyone else on the same number (another system, a
second installation) never names one of our messages. Meta takes at most 512
characters; ours are under 60.
"""

from __future__ import annotations

from django.core import signing

_SALT = "messaging.biz_opaque_callback_data"


def callback_data(message_id: int) -> str:
    """The value sent with message `message_id`."""
    return signing.Signer(salt=_SALT).sign(str(message_id))


def callback_message_id(value: str) -> int | None:
    """The message id `value` names, or None when it is not one of ours."""
    if not value:
        return None
    try:
        return int(signing.Signer(salt=_SALT).unsign(value))
    except (signing.BadSignature, ValueError):
        return None
