"""The Celery broker's transport: kombu's Redis transport, with one fix.

A busy worker exited when Redis went away (celery 5.7.0, kombu 5.7.0: "Unrecoverable
error: AttributeError("'NoneType' object has no attribute 'hostname'")"). On a lost
connection Celery's consumer calls `Connection.collect()`, which drops the transport's
`client` (the connection's parameters) but leaves the default channel open, and then
`Connection.close()`, which closes that channel: the channel gives its unacknowledged
messages back to their queue, needs a Redis client for it, and builds its connection
pool from `transport.client`, now None. The AttributeError is not a connection error,
so nothing ignores it, and the worker stops. No release of celery or kombu fixes it
(5.7.0 is the latest of both).

Here a channel keeps the parameters it was opened with and builds that pool from them
once the transport has dropped its own: the messages go back to their queue when Redis
answers, and when it does not the error is a connection error, which Celery ignores
while it reconnects (the messages are then delivered again once the broker's
visibility timeout has passed, as for a worker that died). Selected by
CELERY_BROKER_TRANSPORT in config/settings.py; apps/core/tests/test_broker.py holds
the failure with kombu's own transport, so the day an upgrade fixes it, the test says
so and this module can go.
"""

from __future__ import annotations

from types import SimpleNamespace

from kombu.transport import redis


class Channel(redis.Channel):
    def __init__(self, connection, *args, **kwargs):
        # The connection's parameters, as long as the channel lives (see above).
        self._opened_with = connection.client
        super().__init__(connection, *args, **kwargs)

    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport.client is not None or self._opened_with is None:
            return super()._connparams(asynchronous=asynchronous)
        # kombu's method reads the transport's client and default port: for this call,
        # this channel's transport is a stand-in holding them (the shared transport is
        # left alone).
        self.connection = SimpleNamespace(client=self._opened_with, default_port=transport.default_port)
        try:
            return super()._connparams(asynchronous=asynchronous)
        finally:
            self.connection = transport

    def close(self):
        super().close()
        # Giving the messages back may have opened a pool after kombu closed the
        # channel's own: close it too.
        self._disconnect_pools()


class Transport(redis.Transport):
    Channel = Channel
