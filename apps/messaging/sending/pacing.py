"""Pacing: how far ahead a send's slot under its number's and its customer's limits
(the buckets: ratelimit.py) is waited for in the worker, how late its call may start,
and what the worker holds while it waits."""

from __future__ import annotations

# A send slot up to this far ahead is reserved and slept for in the worker's thread;
# when every slot is further away the send is queued again with a countdown instead
# (no attempt is counted for either).
MAX_INLINE_WAIT = 1.0

# A call that starts later than this after its slot takes a new slot: sent late, it
# could crowd a number's next slots into the same second (Meta counts per second).
LATE_SLOT = 0.03


def db_connection_release() -> None:
    """With a connection pool (DB_POOL_MAX_SIZE), give this thread's connection back
    while it waits for its slot and for Meta: a threads-pool worker then needs
    connections for its queries only, not one per thread."""
    from django.db import connection

    if (connection.settings_dict.get("OPTIONS") or {}).get("pool") and not connection.in_atomic_block:
        connection.close()
