"""Conversation tasks. Thin: each calls a use-case of apps.conversations.services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="conversations.wake_snoozed", ignore_result=True)
def wake_snoozed() -> int:
    """Reopen the snoozed conversations whose time has come (periodic, every minute)."""
    return services.conversation_wake_snoozed()
