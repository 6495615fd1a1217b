"""Meta's error codes, and what each means for a send: the one table.

Every error the Graph API returns (and every error that arrives later in a status
webhook) is classified here as transient (a retry with backoff can help), a token
error (the number's access token is expired or invalid: alert the admins, do not
retry blindly), a pause (the number or its account may not send now: a permission
the app lacks, a block or restriction, the spam rate limit; every message of the
number would fail alike, so its sending is paused and the messages wait; a few codes
stop one kind of message only, SCOPED_CODES, and pause that kind alone) or terminal
(retrying the same send cannot help).
"""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    TRANSIENT = "transient"
    TOKEN = "token"
    TERMINAL = "terminal"
    PAUSE = "pause"


# code -> (kind, short explanation). Unknown codes are terminal: resending a
# request Meta refused for an unknown reason would only repeat the refusal.
ERROR_CODES: dict[int, tuple[Kind, str]] = {
    # Transient: retry with backoff, honouring Retry-After.
    1: (Kind.TRANSIENT, "Unknown API error"),
    2: (Kind.TRANSIENT, "Temporary API service error"),
    4: (Kind.TRANSIENT, "Application rate limit reached"),
    80007: (Kind.TRANSIENT, "WhatsApp Business Account rate limit reached"),
    130429: (Kind.TRANSIENT, "Cloud API throughput reached"),
    131000: (Kind.TRANSIENT, "Something went wrong at Meta"),
    131016: (Kind.TRANSIENT, "Service temporarily unavailable"),
    131056: (Kind.TRANSIENT, "Too many messages to this customer (pair rate limit)"),
    131057: (Kind.TRANSIENT, "Account in maintenance mode (throughput upgrade)"),
    133004: (Kind.TRANSIENT, "Server temporarily unavailable"),
    # Pause the number's sending: permissions (and 200-299, below), blocks of the number
    # or its account, and the spam rate limit (SPAM_CODES: lifted after a long wait, as a
    # quick retry only adds to it).
    3: (Kind.PAUSE, "The app lacks a capability or permission for this call"),
    10: (Kind.PAUSE, "Permission not granted or removed"),
    131005: (Kind.PAUSE, "Access denied: permission not granted or removed"),
    368: (Kind.PAUSE, "Temporarily blocked for policy violations"),
    131031: (Kind.PAUSE, "Business account locked"),
    131037: (Kind.PAUSE, "Display name not approved"),
    131042: (Kind.PAUSE, "Business eligibility payment issue"),
    131045: (Kind.PAUSE, "Incorrect certificate (number not registered)"),
    133010: (Kind.PAUSE, "Phone number not registered"),
    # Category-specific (SCOPED_CODES): only the marketing templates of the number wait.
    131063: (Kind.PAUSE, ("Marketing messages are turned off on the Cloud API for this account: "
                          "marketing templates go through the Marketing Messages API")),
    131048: (Kind.PAUSE, "Spam rate limit hit: too many of the number's messages were blocked or reported"),
    # Token: the number's access token is invalid or expired.
    0: (Kind.TOKEN, "Authentication exception"),
    190: (Kind.TOKEN, "Access token expired or invalid"),
    # Terminal for that send.
    100: (Kind.TERMINAL, "Invalid parameter"),
    130497: (Kind.TERMINAL, "Business account restricted from messaging users in this country"),
    131008: (Kind.TERMINAL, "Required parameter is missing"),
    131009: (Kind.TERMINAL, "Parameter value is not valid"),
    131021: (Kind.TERMINAL, "Sender and recipient are the same number"),
    131026: (Kind.TERMINAL, "Message undeliverable"),
    131030: (Kind.TERMINAL, "Recipient not in the allowed list of the test number"),
    131047: (Kind.TERMINAL, "More than 24 hours since the customer last wrote: a template is needed"),
    131049: (Kind.TERMINAL, "Not delivered to keep a healthy ecosystem (per-user marketing limit)"),
    131050: (Kind.TERMINAL, "The customer stopped marketing messages"),
    131051: (Kind.TERMINAL, "Unsupported message type"),
    131052: (Kind.TERMINAL, "Media download error"),
    131053: (Kind.TERMINAL, "Media upload error"),
    132000: (Kind.TERMINAL, "Template parameter count mismatch"),
    132001: (Kind.TERMINAL, "Template does not exist"),
    132005: (Kind.TERMINAL, "Template hydrated text too long"),
    132007: (Kind.TERMINAL, "Template format character policy violated"),
    132012: (Kind.TERMINAL, "Template parameter format mismatch"),
    132015: (Kind.TERMINAL, "Template is paused"),
    132016: (Kind.TERMINAL, "Template is disabled"),
    # The Block Users API (POST/DELETE/GET /{phone-number-id}/block_users; blocking.py).
    139100: (Kind.TERMINAL, "Failed to block or unblock some or all of the users"),
    139101: (Kind.TERMINAL, "Blocklist limit reached (64,000 users)"),
    139102: (Kind.TRANSIENT, "The blocklist changed while it was being read"),
    139103: (Kind.TRANSIENT, "Internal error while blocking: try again"),
}

# Graph API permission errors: one kind and one explanation for the whole range.
PERMISSION_RANGE = range(200, 300)
PERMISSION_TEXT = "API permission not granted or removed"

TRANSIENT_CODES = frozenset(code for code, (kind, _) in ERROR_CODES.items() if kind is Kind.TRANSIENT)
TOKEN_CODES = frozenset(code for code, (kind, _) in ERROR_CODES.items() if kind is Kind.TOKEN)
PAUSE_CODES = frozenset(code for code, (kind, _) in ERROR_CODES.items() if kind is Kind.PAUSE) | frozenset(
    PERMISSION_RANGE)
# The pauses that lift after a wait of their own (the spam rate limit, which Meta lifts
# as the number's quality recovers); the others wait for a check or an admin.
SPAM_CODES = frozenset({131048})
# Pauses that stop one kind of message only (pause.py pauses that scope, and the
# number's other messages keep going): Meta refuses marketing templates on the Cloud
# API for the account with 131063; service replies and utility or authentication
# templates are not concerned.
MARKETING = "marketing"
SCOPED_CODES: dict[int, str] = {131063: MARKETING}
# Codes that a retry later may clear although Meta answers them as 4xx: the agent's
# retry action is offered for these (and for every transient, token and pause one).
RETRY_CAN_HELP_CODES = TRANSIENT_CODES | TOKEN_CODES | PAUSE_CODES | frozenset({131026, 131052, 131053, 132015})


def classify(code: int | None, *, http_status: int | None = None) -> Kind:
    """The kind of an error: by Meta's code first, else by the HTTP status."""
    if code is not None and code in ERROR_CODES:
        return ERROR_CODES[code][0]
    if code is not None and code in PERMISSION_RANGE:
        return Kind.PAUSE
    if http_status is not None and (http_status >= 500 or http_status == 429):
        return Kind.TRANSIENT
    if http_status == 401:
        return Kind.TOKEN
    return Kind.TERMINAL


def pause_scope(code: int | None) -> str:
    """What a pause for `code` covers: "marketing" (marketing templates only) or ""
    (everything the number sends)."""
    return SCOPED_CODES.get(code, "") if code is not None else ""


def describe(code: int | None) -> str:
    """A short English explanation of `code` ("" when unknown)."""
    if code is not None and code in PERMISSION_RANGE and code not in ERROR_CODES:
        return PERMISSION_TEXT
    if code is None or code not in ERROR_CODES:
        return ""
    return ERROR_CODES[code][1]
