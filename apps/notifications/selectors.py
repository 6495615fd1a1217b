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
