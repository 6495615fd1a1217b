"""The send worker's sender threads (SEND_SENDER_THREADS): the calls to Meta a process
has in flight, hence at most SEND_SENDER_THREADS / round trip sends per second."""

import runpy
import threading
from pathlib import Path

import pytest

from apps.messaging import tasks
from apps.whatsapp import client

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fresh_pools(monkeypatch):
    """A process's sender pool and Graph HTTP pools as if new (the test's own)."""
    monkeypatch.setattr(tasks, "_senders", None)
    monkeypatch.setattr(client, "_managers", {})
    monkeypatch.setattr(client, "_targets", {})
    yield
    if tasks._senders is not None:
        tasks._senders.shutdown(wait=True)


def test_the_default_lets_one_number_send_1000_per_second_at_200_ms(monkeypatch):
    monkeypatch.delenv("SEND_SENDER_THREADS", raising=False)
    defaults = runpy.run_path(str(ROOT / "config" / "settings.py"))
    assert defaults["SEND_SENDER_THREADS"] / 0.2 >= 1000


def test_the_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEND_SENDER_THREADS", "300")
    assert runpy.run_path(str(ROOT / "config" / "settings.py"))["SEND_SENDER_THREADS"] == 300


def test_the_sender_pool_has_the_settings_threads_all_calling_at_once(settings, fresh_pools):
    settings.SEND_SENDER_THREADS = 90  # more than the former fixed 64
    assert tasks.sender_threads() == 90
    pool = tasks._sender_pool()
    assert pool is tasks._sender_pool()  # one per process

    started = threading.Condition()
    running = [0]
    release = threading.Event()

    def call():  # a call waiting for Meta's answer
        with started:
            running[0] += 1
            started.notify_all()
        release.wait()

    futures = [pool.submit(call) for _ in range(90)]
    try:
        with started:
            all_in_flight = started.wait_for(lambda: running[0] == 90, timeout=120)
        assert all_in_flight, f"{running[0]} of 90 calls in flight"
    finally:
        release.set()
    for future in futures:
        future.result()


def test_the_graph_client_keeps_a_connection_per_sender_thread(settings, fresh_pools):
    settings.GRAPH_HTTP_POOL_SIZE = 100
    settings.SEND_SENDER_THREADS = 300
    manager = client._manager("http://127.0.0.1:1/v23.0/1/messages")
    assert manager.connection_pool_kw["maxsize"] == 300
    client._managers.clear()
    settings.SEND_SENDER_THREADS = 8
    assert client._manager("http://127.0.0.1:1/v23.0/1/messages").connection_pool_kw["maxsize"] == 100

