"""Messaging tasks: send messages (a number's batch, or one message with its
number's others), sweep messages that never started, reconcile the statuses
waiting for their message, mark read. Each takes ids and
calls the sending package (apps/messaging/sending/), which says why a task run
twice never sends twice.

A send task that finds the database unavailable (restarting, connections cut, its
pool out of connections) is retried after 1, 2, 4, then 5 s (Celery's backoff), up to
about ten minutes; the sweep covers anything longer."""

from __future__ import annotations

from celery import shared_task

from apps.core.tasks import RETRY_DATABASE

from .sending import message_send_out, number_batch_send, paused_numbers_check, pending_sweep, read_receipt_send
from .services.statuses import statuses_pending_reconcile


@shared_task(name="messaging.send_pending", acks_late=True, ignore_result=True, **RETRY_DATABASE)
def send_pending(number_id: int) -> int:
    """Send a batch of the number's pending messages (queued by the number's kick)."""
    redelivered = bool((getattr(send_pending.request, "delivery_info", None) or {}).get("redelivered"))
    return number_batch_send(number_id, redelivered=redelivered)


@shared_task(name="messaging.send_message", acks_late=True, ignore_result=True, **RETRY_DATABASE)
def send_message(message_id: int) -> str:
    """Send one pending outbound message (with a batch of its number's others)."""
    return message_send_out(message_id)


@shared_task(name="messaging.sweep_pending", ignore_result=True)
def sweep_pending() -> int:
    """Give every pending outbound message a live task again (its number's batch task,
    or its own), where a worker died holding it or it was lost (every few seconds)."""
    return pending_sweep()


@shared_task(name="messaging.check_paused_numbers", ignore_result=True)
def check_paused_numbers() -> int:
    """Queue the check of each number whose paused sending is due for one (sending/pause.py)."""
    return paused_numbers_check()


@shared_task(name="messaging.reconcile_pending_statuses", ignore_result=True)
def reconcile_pending_statuses() -> tuple[int, int]:
    """Apply the statuses waiting for a message that has its wamid now; expire the old ones."""
    return statuses_pending_reconcile()


@shared_task(name="messaging.mark_read", acks_late=True, ignore_result=True)
def mark_read(number_id: int, wamid: str, typing: bool = False) -> None:
    """Tell Meta the customer's message `wamid` was read (and optionally show typing)."""
    read_receipt_send(number_id, wamid, typing=typing)
