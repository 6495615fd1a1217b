"""The process's aiohttp client (apps/providers/meta/http.py) against real local peers."""

import asyncio
import socket
import threading
import time

import pytest

from apps.providers.meta import http


class _Peer:
    """Answers each request on a connection with `{}` and keeps it alive, then drops
    it after `idle` seconds (as a server whose keep-alive ran out does)."""

    def __init__(self, idle: float):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v23.0/1/messages"
        self.idle, self.connections = idle, 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                time.sleep(self.idle)

    def close(self):
        self.listener.close()


@pytest.fixture
def peer():
    http.reset()
    served = _Peer(idle=0.05)
    yield served
    served.close()
    http.reset()


def test_a_kept_alive_connection_the_peer_dropped_is_not_written_to(peer):
    for _ in range(3):
        answer = http.request("POST", peer.url, headers={}, data=b"{}", timeout=5)
        assert (answer.status_code, answer.json()) == (200, {})
        time.sleep(0.2)  # the peer drops the idle connection meanwhile
    assert peer.connections == 3


def test_a_thread_running_an_event_loop_calls_through_the_shared_loop(peer):
    async def inside_a_loop():
        return http.request("POST", peer.url, headers={}, data=b"{}", timeout=5).status_code

    assert asyncio.run(inside_a_loop()) == 200


def test_each_thread_has_its_own_session_and_reset_closes_them(peer):
    sessions = []

    def call():
        http.request("POST", peer.url, headers={}, data=b"{}", timeout=5)
        sessions.append(http._local.client.session)

    for _ in range(2):
        thread = threading.Thread(target=call)
        thread.start()
        thread.join(10)
    assert len(sessions) == 2 and sessions[0] is not sessions[1]
    http.reset()
    assert all(session.closed for session in sessions)


def test_reset_from_a_thread_running_an_event_loop_closes_the_others_sessions(peer):
    """A browser driver or an async test stops the client from inside a running loop:
    the threads' own loops are still closed, and nothing is raised."""
    http.request("POST", peer.url, headers={}, data=b"{}", timeout=5)  # this thread's own loop
    session = http._local.client.session

    async def inside_a_loop():
        http.reset()

    asyncio.run(inside_a_loop())
    assert session.closed


def test_a_process_that_ends_closes_its_sessions(peer):
    """A command that made a call and exits leaves no unclosed session behind (asyncio
    would log "Unclosed client session" on every such exit)."""
    import subprocess
    import sys

    code = ("from apps.providers.meta import http\n"
            f"print(http.request('POST', {peer.url!r}, headers={{}}, data=b'{{}}', timeout=5).status_code)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "200", done.stderr
    assert "Unclosed" not in done.stderr


def test_a_refused_connection_is_a_failure_that_never_reached_the_peer():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(http.Failure) as caught:
        http.request("GET", f"http://127.0.0.1:{port}/", headers={}, timeout=5)
    assert caught.value.read_timeout is False
    http.reset()


def test_proxies_come_from_the_environment_once_per_origin(monkeypatch):
    http.reset()
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "internal.invalid")
    assert http.proxy_for("https://graph.facebook.com/v23.0/1/messages") == "http://proxy.invalid:3128"
    assert http.proxy_for("https://internal.invalid/x") is None
    assert http.proxy_for("http://graph.facebook.com/x") is None  # no HTTP_PROXY
    http.reset()
