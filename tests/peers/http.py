"""A local HTTP peer served from a thread, for tests that play a remote server."""

from __future__ import annotations

import threading
from socketserver import BaseServer

# socketserver checks for shutdown every poll_interval (0.5 s by default): a test's
# teardown would wait that long for each server it stops.
POLL_SECONDS = 0.02


def serve_in_thread(server: BaseServer, name: str = "test-http-peer") -> threading.Thread:
    """Serve `server` on a daemon thread until `server.shutdown()`."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                              name=name, daemon=True)
    thread.start()
    return thread
