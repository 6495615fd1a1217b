"""Reads of notifications and their rules, scoped to the requesting user."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts import access

from .models import Notification, NotificationRule


def notification_get_for_user(*, user, notification_id: int) -> Notification | None:
    if not access.can_use_integration_api(user):
        return None
    return (Notification.objects.select_related("message")
            .filter(organization_id=user.organization_id, pk=notification_id).first())


def notification_rules_for_user(*, user) -> QuerySet[NotificationRule]:
    if not access.can_manage_settings(user):
        return NotificationRule.objects.none()
    return NotificationRule.objects.filter(organization_id=user.organization_id)


# How many of an organisation's latest notifications tell which fields its events carry.
EVENT_FIELDS_SAMPLE = 500


def _field_names(payload, prefix: str = "") -> list[str]:
    names = []
    for key, value in payload.items() if isinstance(payload, dict) else ():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            names.extend(_field_names(value, f"{name}."))
        else:
            names.append(name)
    return names


def event_fields_for_user(*, user) -> dict[str, list[str]]:
    """Each event type's known fields: the ones the business system sent with the
    latest notifications the user may see (nested fields as a.b), sorted. A platform
    superuser sees every organisation's."""
    if access.is_platform_admin(user):
        notifications = Notification.objects.all()
    elif access.can_manage_settings(user):
        notifications = Notification.objects.filter(organization_id=user.organization_id)
    else:
        return {}
    fields: dict[str, set[str]] = {}
    rows = notifications.order_by("-created_at", "-id").values_list("event_type", "payload")[:EVENT_FIELDS_SAMPLE]
    for event_type, payload in rows:
        fields.setdefault(event_type, set()).update(_field_names(payload))
    return {event_type: sorted(names) for event_type, names in sorted(fields.items())}
