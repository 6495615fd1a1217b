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
