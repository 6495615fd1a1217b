"""The simulator's reads and rows (apps/simulator/rows.py): batched across calls, stored as create() would."""

import pytest

from apps.simulator import rows
from apps.simulator.models import SimulatedMessage, SimulatedRequest, SimulatorConfig
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def test_insert_fills_defaults_and_json_as_create_does():
    rows.insert(SimulatedMessage, phone_number_id="1", customer="5511", direction="out", wamid="wamid.R1",
                type="text", payload={"text": {"body": "Olá"}, "n": [1, None]})
    stored = SimulatedMessage.objects.get(wamid="wamid.R1")
    assert (stored.status, stored.payload) == ("accepted", {"text": {"body": "Olá"}, "n": [1, None]})
    assert stored.created_at is not None
    rows.insert(SimulatedRequest, method="POST", path="/x", body=None, status_code=200, response={"ok": True},
                received_at=None)
    logged = SimulatedRequest.objects.get()
    assert (logged.body, logged.response, logged.status_code) == (None, {"ok": True}, 200)
    assert SimulatedRequest.objects.filter(body__isnull=True).count() == 1


def test_get_one_reads_the_clear_token_and_none_when_absent():
    number = WhatsAppNumberFactory(access_token="secret-token")
    loaded = rows.get_one(WhatsAppNumber, "phone_number_id", number.phone_number_id)
    assert (loaded.pk, loaded.access_token, loaded.organization_id) == (number.pk, "secret-token", number.organization_id)
    assert rows.get_one(WhatsAppNumber, "phone_number_id", "nope") is None


def test_config_is_read_fresh_on_every_call():
    assert SimulatorConfig.get().latency_ms == 0
    SimulatorConfig.objects.filter(pk=1).update(latency_ms=250)
    assert SimulatorConfig.get().latency_ms == 250


def test_get_two_reads_both_rows_or_none_for_each():
    number = WhatsAppNumberFactory(access_token="secret-token")
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"latency_ms": 7})
    config, loaded = rows.get_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id",
                                                                  number.phone_number_id))
    assert (config.pk, config.latency_ms) == (1, 7)
    assert (loaded.pk, loaded.access_token) == (number.pk, "secret-token")
    config, missing = rows.get_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", "nope"))
    assert (config.latency_ms, missing) == (7, None)
    SimulatorConfig.objects.all().delete()
    assert rows.get_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", number.phone_number_id))[0] is None


def test_insert_many_stores_each_row_as_insert_does(django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # one INSERT per model (and its savepoint)
        rows.insert_many([
            (SimulatedMessage, {"phone_number_id": "1", "customer": "5511", "direction": "out", "wamid": "wamid.M1",
                                "type": "text", "payload": {"text": {"body": "Oi"}}}),
            (SimulatedRequest, {"method": "POST", "path": "/y", "body": {"a": 1}, "status_code": 200,
                                "response": None, "received_at": None}),
        ])
    stored = SimulatedMessage.objects.get(wamid="wamid.M1")
    assert (stored.status, stored.payload, stored.customer) == ("accepted", {"text": {"body": "Oi"}}, "5511")
    logged = SimulatedRequest.objects.get(path="/y")
    assert (logged.body, logged.response, logged.status_code) == ({"a": 1}, None, 200)


def _in_threads(count, target):
    import threading

    results, errors = [None] * count, [None] * count
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001
            errors[i] = exc
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_read_and_store_through_the_database_thread():
    numbers = [WhatsAppNumberFactory(access_token=f"token-{i}") for i in range(3)]
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"latency_ms": 9})

    def call(i):
        number = numbers[i % 3]
        config, loaded = rows.read_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id",
                                                                     number.phone_number_id))
        missing = rows.read_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", "nope"))[1]
        rows.store_many([
            (SimulatedMessage, {"phone_number_id": number.phone_number_id, "customer": str(5500 + i),
                                "direction": "out", "wamid": f"wamid.T{i}", "type": "text",
                                "payload": {"text": {"body": f"n{i}"}}}),
            (SimulatedRequest, {"method": "POST", "path": f"/t/{i}", "body": {"i": i}, "status_code": 200,
                                "response": None, "received_at": None}),
        ])
        # Stored (committed) when the call goes on.
        assert SimulatedMessage.objects.filter(wamid=f"wamid.T{i}").exists()
        return config.latency_ms, loaded.pk, loaded.access_token, missing

    results, errors = _in_threads(30, call)
    assert errors == [None] * 30
    assert results == [(9, numbers[i % 3].pk, f"token-{i % 3}", None) for i in range(30)]
    assert sorted(SimulatedMessage.objects.values_list("payload__text__body", flat=True)) == sorted(
        f"n{i}" for i in range(30))
    assert SimulatedRequest.objects.filter(path__startswith="/t/").count() == 30


@pytest.mark.django_db(transaction=True)
def test_a_call_whose_row_cannot_be_stored_fails_alone():
    rows.insert(SimulatedMessage, phone_number_id="1", customer="5511", direction="out", wamid="wamid.TAKEN",
                type="text", payload={})

    def call(i):
        rows.store_many([(SimulatedMessage, {"phone_number_id": "1", "customer": "5511", "direction": "out",
                                             "wamid": "wamid.TAKEN" if i == 0 else f"wamid.F{i}", "type": "text",
                                             "payload": {}})])

    _results, errors = _in_threads(12, call)
    assert errors[0] is not None and errors[1:] == [None] * 11
    assert SimulatedMessage.objects.count() == 12


def test_insert_many_stores_several_rows_of_each_model():
    rows.insert_many([
        (SimulatedRequest, {"method": "POST", "path": f"/m/{i}", "body": {"i": i}, "status_code": 200,
                            "response": None, "received_at": None}) for i in range(3)
    ] + [
        (SimulatedMessage, {"phone_number_id": "1", "customer": "5511", "direction": "out", "wamid": f"wamid.S{i}",
                            "type": "text", "payload": {"i": i}}) for i in range(2)
    ])
    assert sorted(SimulatedRequest.objects.values_list("body", flat=True), key=str) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert sorted(SimulatedMessage.objects.values_list("wamid", "payload")) == [("wamid.S0", {"i": 0}),
                                                                                 ("wamid.S1", {"i": 1})]


def test_a_batch_of_rows_is_stored_whole_or_not_at_all():
    from django.db import IntegrityError

    rows.insert(SimulatedMessage, phone_number_id="1", customer="5511", direction="out", wamid="wamid.ONE",
                type="text", payload={})
    with pytest.raises(IntegrityError):
        rows.insert_many([
            (SimulatedRequest, {"method": "POST", "path": "/whole", "body": None, "status_code": 200,
                                "response": None, "received_at": None}),
            (SimulatedMessage, {"phone_number_id": "1", "customer": "5511", "direction": "out",
                                "wamid": "wamid.ONE", "type": "text", "payload": {}}),
        ])
    assert not SimulatedRequest.objects.filter(path="/whole").exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_before_serving_tells_its_callers_and_the_next_is_served(monkeypatch):
    # No caller waits for ever: a failure outside the reads and writes themselves (here
    # the connection check before the batch) reaches every caller of that batch, and
    # the thread serves the next one.
    from django.db import connections

    wrapper = type(connections["default"])  # the database thread has its own connection
    real, failures = wrapper.close_if_unusable_or_obsolete, []

    def failing_once(self):
        if not failures:
            failures.append(1)
            raise RuntimeError("connection check failed")
        return real(self)

    monkeypatch.setattr(wrapper, "close_if_unusable_or_obsolete", failing_once)
    row = {"phone_number_id": "1", "customer": "5511", "direction": "out", "wamid": "wamid.W1", "type": "text",
           "payload": {}}
    _results, errors = _in_threads(1, lambda i: rows.store_many([(SimulatedMessage, row)]))
    assert isinstance(errors[0], RuntimeError)
    _results, errors = _in_threads(1, lambda i: rows.store_many([(SimulatedMessage, row)]))
    assert errors == [None] and SimulatedMessage.objects.filter(wamid="wamid.W1").count() == 1
