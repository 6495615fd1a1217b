"""The send and inbound workers' processes, once ready, freeze the objects they made
while starting; the send worker also hands the GIL over more often; other workers keep
Python's defaults (config/celery.py)."""

import gc
import sys

import pytest

from config import celery


@pytest.fixture
def restored():
    interval = sys.getswitchinterval()
    gc.unfreeze()
    yield
    gc.unfreeze()
    sys.setswitchinterval(interval)


def test_a_ready_send_worker_freezes_its_startup_objects_and_switches_threads_more_often(restored, monkeypatch):
    monkeypatch.setattr(celery, "_consumed_queues", lambda: {"outbound"})
    assert gc.get_freeze_count() == 0
    celery._prepare_worker_process()
    assert gc.get_freeze_count() > 1000  # Django's, Celery's and the apps' objects
    assert sys.getswitchinterval() == celery.SWITCH_INTERVAL < 0.005


def test_a_ready_inbound_worker_freezes_its_startup_objects_and_keeps_the_switch_interval(restored, monkeypatch):
    monkeypatch.setattr(celery, "_consumed_queues", lambda: {"inbound"})
    interval = sys.getswitchinterval()
    celery._prepare_worker_process()
    assert gc.get_freeze_count() > 1000
    assert sys.getswitchinterval() == interval


@pytest.mark.parametrize("queues", [{"default", "media", "bot"}])
def test_other_workers_keep_pythons_defaults(restored, monkeypatch, queues):
    monkeypatch.setattr(celery, "_consumed_queues", lambda: queues)
    interval = sys.getswitchinterval()
    celery._prepare_worker_process()
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == interval


def test_the_queues_come_from_the_workers_selection(monkeypatch):
    celery.app.amqp.queues.select(["outbound"])
    try:
        assert celery._consumed_queues() == {"outbound"}
    finally:
        celery.app.amqp.queues.deselect("outbound")
        celery.app.amqp.queues._consume_from = None
