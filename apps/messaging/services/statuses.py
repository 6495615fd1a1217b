"""Delivery statuses of outbound messages."""

from __future__ import annotations


def status_apply_pending(*, message) -> None:
    """Apply statuses that arrived before `message` had its wamid (call after the
    wamid is stored, in the same transaction)."""
    raise NotImplementedError
