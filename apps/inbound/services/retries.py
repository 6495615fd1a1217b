"""When a stored delivery that failed is tried again.

A delivery that failed on its own content (a bug, a row the database refuses) is
tried again with a growing backoff (30 s, 1, 2, 4 ... minutes) until it becomes a
dead letter. One that failed only because of the database's moment says nothing
about the delivery: a deadlock with another transaction, a serialization failure,
a lock not granted, a connection cut or lost. Such a delivery is tried again within
seconds (1, 2, 4 ... s, never later than the backoff above), so a fault that passes
does not leave it waiting half a minute.
"""

from __future__ import annotations

import psycopg
from django.db import InterfaceError

# Processing attempts before an event becomes a dead letter (replay brings it back).
MAX_ATTEMPTS = 8

# SQLSTATEs of a transaction that failed because of others or of the connection:
# class 08 (connection exception), 40001 serialization failure, 40P01 deadlock,
# 55P03 lock not available, 57P01-57P05 (the server shut the session down:
# pg_terminate_backend, a restart).
TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03")
TRANSIENT_SQLSTATE_CLASSES = ("08", "57P")


def retry_delay(attempts: int, *, transient: bool = False) -> int:
    """Seconds before the next attempt: 30 s, 1, 2, 4 ... minutes, at most an hour;
    after a transient failure (see `transient`) 1, 2, 4 ... s, never more than that."""
    backoff = min(3600, 30 * 2 ** max(0, attempts - 1))
    if transient:
        return min(backoff, 2 ** max(0, attempts - 1))
    return backoff


def transient(exc: BaseException) -> bool:
    """Whether `exc` is a database failure of the moment, not of the delivery: a
    deadlock, a serialization failure, a lock not granted, a lost or closed
    connection (Django's wrapper or psycopg's own error, whichever was raised)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg.Error):
            state = exc.sqlstate or ""
            if not state:  # raised by the client: the connection is closed or broken
                return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
            return state in TRANSIENT_SQLSTATES or state.startswith(TRANSIENT_SQLSTATE_CLASSES)
        if isinstance(exc, InterfaceError) and exc.__cause__ is None:  # Django's "connection already closed"
            return True
        exc = exc.__cause__
    return False
