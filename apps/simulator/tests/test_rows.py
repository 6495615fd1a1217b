"""The simulator's plain-SQL reads and writes store and load what the ORM would."""

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


def test_get_two_reads_both_rows_or_none_for_each_in_one_statement(django_assert_num_queries):
    number = WhatsAppNumberFactory(access_token="secret-token")
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"latency_ms": 7})
    with django_assert_num_queries(1):
        config, loaded = rows.get_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id",
                                                                      number.phone_number_id))
    assert (config.pk, config.latency_ms) == (1, 7)
    assert (loaded.pk, loaded.access_token) == (number.pk, "secret-token")
    config, missing = rows.get_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", "nope"))
    assert (config.latency_ms, missing) == (7, None)
    SimulatorConfig.objects.all().delete()
    assert rows.get_two((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", number.phone_number_id))[0] is None


def test_insert_many_stores_each_row_as_insert_does(django_assert_max_num_queries):
    from django.db import connection

    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 2):
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
