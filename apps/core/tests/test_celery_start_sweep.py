"""A worker restarted after a crash sweeps its queue as soon as it is ready, rather
than at beat's next run (config/celery.py): the send worker settles a dead one's
claims, the inbound worker its stored deliveries. On the real broker."""

import json

import pytest

from config import celery


@pytest.fixture
def broker(settings, real_broker):
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("outbound", "inbound", "default")
    yield client
    client.delete("outbound", "inbound", "default")


def queued(client, queue):
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange(queue, 0, -1)]


@pytest.mark.parametrize(("queues", "expected"), [
    ({"outbound"}, {"outbound": ["messaging.sweep_pending"], "inbound": []}),
    ({"inbound"}, {"outbound": [], "inbound": ["inbound.sweep_webhook_events"]}),
    ({"default", "media", "bot"}, {"outbound": [], "inbound": []}),
])
def test_a_ready_worker_queues_its_queues_sweep(broker, monkeypatch, queues, expected):
    monkeypatch.setattr(celery, "_consumed_queues", lambda: queues)
    celery._sweep_at_start()
    assert {queue: queued(broker, queue) for queue in expected} == expected
    assert queued(broker, "default") == []


def test_the_inbound_start_sweep_is_the_one_of_a_restart(broker, monkeypatch):
    monkeypatch.setattr(celery, "_consumed_queues", lambda: {"inbound"})
    celery._sweep_at_start()
    [raw] = broker.lrange("inbound", 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == "inbound.sweep_webhook_events"
    assert message["headers"]["kwargsrepr"] == "{'at_start': True}"
