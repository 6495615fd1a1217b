"""The bot's use-cases. Filled in step by step; the inbound hook is the entry point."""

from __future__ import annotations


def bot_on_inbound_message(*, message) -> None:
    """Called once a new customer message is stored: enqueue the bot when it applies."""
    return None
