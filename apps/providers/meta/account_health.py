"""Meta's account-level notices read into one typed shape: what happened to the
account or a number, how serious it is, and which sends it stops.

A pure function of an `AccountNotice` (apps/providers/events.py: the field and the
value of one change of a delivery) to `HealthNotice`, written from Meta's webhook
reference for the fields account_update, account_alerts, account_review_update,
business_capability_update, phone_number_name_update, phone_number_quality_update and
security. Unknown events keep their field and event, as "info".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

CRITICAL, WARNING, INFO = "critical", "warning", "info"

# What a restriction stops (account_update ACCOUNT_RESTRICTION's restriction_info).
BUSINESS_INITIATED = "business_initiated"  # conversations the business opens: templates
CUSTOMER_INITIATED = (
    "customer_initiated"  # answers within the customer's 24-hour window
)
RESTRICTION_COVERS = {
    "RESTRICTED_BIZ_INITIATED_MESSAGING": BUSINESS_INITIATED,
    "RESTRICTED_CUSTOMER_INITIATED_MESSAGING": CUSTOMER_INITIATED,
}

_ACCOUNT_EVENTS = {
    # event: (severity, English summary)
    "ACCOUNT_RESTRICTION": (
        CRITICAL,
        "The account is restricted for policy violations",
    ),
    "ACCOUNT_VIOLATION": (WARNING, "The account violated WhatsApp's policies"),
    "DISABLED_UPDATE": (CRITICAL, "The account's ban state changed"),
    "ACCOUNT_DELETED": (CRITICAL, "The account was deleted"),
    "ACCOUNT_OFFBOARDED": (
        CRITICAL,
        "The account was offboarded (a device change or a re-registration)",
    ),
    "ACCOUNT_RECONNECTED": (INFO, "The account was reconnected"),
    "PARTNER_APP_UNINSTALLED": (
        CRITICAL,
        "The business removed this app's access to the account",
    ),
    "PARTNER_REMOVED": (WARNING, "The account was unshared with the solution partner"),
}
_SEVERITIES = {"CRITICAL": CRITICAL, "WARNING": WARNING, "INFORMATIONAL": INFO}
_QUALITY_EVENTS = {
    "FLAGGED": WARNING,
    "DOWNGRADE": WARNING,
    "UNFLAGGED": INFO,
    "UPGRADE": INFO,
}
_SECURITY_EVENTS = {
    "PIN_CHANGED": (
        WARNING,
        "The number's two-step verification PIN was changed or enabled in WhatsApp Manager",
    ),
    "PIN_RESET_REQUEST": (
        WARNING,
        "Someone asked to turn off the number's two-step verification",
    ),
    "PIN_RESET_SUCCESS": (
        CRITICAL,
        "The number's two-step verification was turned off",
    ),
}


@dataclass(frozen=True)
class Restriction:
    type: str
    expires_at: datetime | None
    covers: str = ""  # BUSINESS_INITIATED, CUSTOMER_INITIATED or "" (no send of ours)


@dataclass(frozen=True)
class HealthNotice:
    field: str
    event: str
    severity: str
    summary: str  # English; the domain shows its own translated words by (field, event)
    display_phone_number: str = ""
    restrictions: tuple[Restriction, ...] = ()
    # The account may send nothing at all (disabled, deleted, offboarded, app removed).
    stops_all: bool = False
    # The account may send again (a ban lifted, the account reconnected).
    lifts_all: bool = False
    details: dict = field(default_factory=dict)


def _text(value) -> str:
    return value.strip()[:500] if isinstance(value, str) else ""


def _time(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _account_update(value: dict) -> HealthNotice:
    event = _text(value.get("event"))
    severity, summary = _ACCOUNT_EVENTS.get(
        event, (INFO, f"Account update: {event or 'unknown'}")
    )
    restrictions = tuple(
        Restriction(
            type=_text(r.get("restriction_type")),
            expires_at=_time(r.get("expiration")),
            covers=RESTRICTION_COVERS.get(_text(r.get("restriction_type")), ""),
        )
        for r in value.get("restriction_info") or []
        if isinstance(r, dict)
    )
    details: dict = {}
    stops_all = lifts_all = False
    violation = (
        value.get("violation_info")
        if isinstance(value.get("violation_info"), dict)
        else {}
    )
    if violation.get("violation_type"):
        details["violation_type"] = _text(violation["violation_type"])
    ban = value.get("ban_info") if isinstance(value.get("ban_info"), dict) else {}
    if ban:
        details["ban_state"], details["ban_date"] = (
            _text(ban.get("waba_ban_state")),
            _text(ban.get("waba_ban_date")),
        )
        if details["ban_state"] == "DISABLE":
            stops_all = True
        elif details["ban_state"] == "REINSTATE":
            severity, summary, lifts_all = INFO, "The account was reinstated", True
        elif details["ban_state"] == "SCHEDULE_FOR_DISABLE":
            severity, summary = CRITICAL, "The account is scheduled to be disabled"
    if event in ("ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED", "PARTNER_APP_UNINSTALLED"):
        stops_all = True
    if event == "ACCOUNT_RECONNECTED":
        lifts_all = True
    return HealthNotice(
        field="account_update",
        event=event,
        severity=severity,
        summary=summary,
        restrictions=restrictions,
        stops_all=stops_all,
        lifts_all=lifts_all,
        details=details,
    )


def _account_alerts(value: dict) -> HealthNotice:
    info = (
        value.get("alert_info") if isinstance(value.get("alert_info"), dict) else value
    )
    alert_type = _text(info.get("alert_type"))
    severity = _SEVERITIES.get(_text(info.get("alert_severity")), WARNING)
    if _text(info.get("alert_status")) == "NONE":
        severity = INFO
    description = _text(info.get("alert_description"))
    return HealthNotice(
        field="account_alerts",
        event=alert_type,
        severity=severity,
        summary=description or f"Account alert: {alert_type or 'unknown'}",
        details={
            "entity_type": _text(value.get("entity_type")),
            "entity_id": _text(value.get("entity_id")),
            "status": _text(info.get("alert_status")),
            "description": description,
        },
    )


def _review(value: dict) -> HealthNotice:
    decision = _text(value.get("decision"))
    severity = {
        "APPROVED": INFO,
        "PENDING": INFO,
        "DEFERRED": WARNING,
        "REJECTED": CRITICAL,
    }.get(decision, WARNING)
    return HealthNotice(
        field="account_review_update",
        event=decision,
        severity=severity,
        summary=f"Account review: {decision or 'unknown'}",
        stops_all=decision == "REJECTED",
        lifts_all=decision == "APPROVED",
    )


def _capability(value: dict) -> HealthNotice:
    details = {
        k: value[k]
        for k in (
            "max_daily_conversation_per_phone",
            "max_daily_conversations_per_business",
            "max_phone_numbers_per_business",
        )
        if k in value
    }
    return HealthNotice(
        field="business_capability_update",
        event="CAPABILITY_UPDATE",
        severity=INFO,
        summary="The account's messaging limits changed",
        details=details,
    )


def _name(value: dict) -> HealthNotice:
    decision = _text(value.get("decision"))
    severity = {
        "APPROVED": INFO,
        "PENDING": INFO,
        "DEFERRED": WARNING,
        "REJECTED": WARNING,
    }.get(decision, INFO)
    details = {
        "requested_verified_name": _text(value.get("requested_verified_name")),
        "rejection_reason": _text(value.get("rejection_reason")),
    }
    return HealthNotice(
        field="phone_number_name_update",
        event=decision,
        severity=severity,
        summary=f"Display name review: {decision or 'unknown'}",
        display_phone_number=_text(value.get("display_phone_number")),
        details=details,
    )


def _quality(value: dict) -> HealthNotice:
    event = _text(value.get("event"))
    limit = _text(
        value.get("max_daily_conversations_per_business") or value.get("current_limit")
    )
    return HealthNotice(
        field="phone_number_quality_update",
        event=event,
        severity=_QUALITY_EVENTS.get(event, INFO),
        summary=f"Number quality: {event or 'unknown'}",
        display_phone_number=_text(value.get("display_phone_number")),
        details={"messaging_limit": limit} if limit else {},
    )


def _security(value: dict) -> HealthNotice:
    event = _text(value.get("event"))
    severity, summary = _SECURITY_EVENTS.get(
        event, (WARNING, f"Security: {event or 'unknown'}")
    )
    return HealthNotice(
        field="security",
        event=event,
        severity=severity,
        summary=summary,
        display_phone_number=_text(value.get("display_phone_number")),
        details={"requester": _text(value.get("requester"))},
    )


_READERS = {
    "account_update": _account_update,
    "account_alerts": _account_alerts,
    "account_review_update": _review,
    "business_capability_update": _capability,
    "phone_number_name_update": _name,
    "phone_number_quality_update": _quality,
    "security": _security,
}


def read_notice(field_name: str, value: dict) -> HealthNotice:
    """The health notice of one account-level change (`field_name`, its `value`)."""
    value = value if isinstance(value, dict) else {}
    reader = _READERS.get(field_name)
    if reader is None:
        return HealthNotice(
            field=field_name,
            event=_text(value.get("event")),
            severity=INFO,
            summary=f"{field_name}: {_text(value.get('event')) or 'notice'}",
        )
    return reader(value)
