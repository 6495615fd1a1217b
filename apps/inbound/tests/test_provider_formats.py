"""The pipeline is the providers' common ground: a provider adds a reader of its
deliveries (apps.providers.base.InboundFormat) and nothing else, and its customers'
messages are stored, routed to their number only when that number's secret signed
the delivery, and kept when unusable, as Meta's are."""

import json
from datetime import UTC, datetime

import pytest

from apps.inbound import services
from apps.inbound.models import WebhookEvent
from apps.messaging.models import Message
from apps.providers import events as ev
from apps.providers import inbound_format, inbound_formats
from apps.providers.base import Delivery, UnusableBody
from apps.providers.meta.signature import secret_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)


class LineFormat:
    """A made-up provider: {"to": number id, "messages": [{"id", "from", "text", "ts"}]}."""

    def read(self, body: bytes) -> Delivery:
        try:
            payload = json.loads(body)
            to, messages = str(payload["to"]), payload["messages"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UnusableBody(f"not a line delivery: {exc}") from None
        items = [ev.InboundMessage(
            path=f"messages[{i}]", waba_id="", raw=m, phone_number_id=to, display_phone_number="",
            wamid=m["id"], from_wa_id=m["from"], profile_name="", type="text", content={"body": m["text"]},
            timestamp=datetime.fromtimestamp(m["ts"], tz=UTC),
        ) for i, m in enumerate(messages)]
        return Delivery(parts=[("number", to)], items=items)

    def parts(self, body: bytes):
        return [("number", str(json.loads(body)["to"]))]


@pytest.fixture
def line_provider(monkeypatch):
    monkeypatch.setitem(inbound_formats(), "line", LineFormat())


def _stored(body: dict, *, signed_by: str) -> WebhookEvent:
    return WebhookEvent.objects.create(provider="line", body=json.dumps(body).encode(),
                                       signature=WebhookEvent.Signature.VALID, signed_by=signed_by)


def test_another_providers_messages_are_stored_by_the_same_pipeline(number, line_provider):
    delivery = _stored({"to": number.phone_number_id, "messages": [
        {"id": "line-1", "from": "5511988887777", "text": "hello from elsewhere", "ts": 1718200000},
    ]}, signed_by=secret_fingerprint("test-app-secret"))

    assert services.webhook_events_drain() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.organization_id) == (WebhookEvent.Status.PROCESSED, number.organization_id)
    message = Message.objects.get()
    assert (message.wamid, message.text, message.conversation.contact.wa_id) == (
        "line-1", "hello from elsewhere", "5511988887777")


def test_another_providers_items_reach_only_the_number_whose_secret_signed(number, line_provider):
    delivery = _stored({"to": number.phone_number_id, "messages": [
        {"id": "line-2", "from": "5511988887777", "text": "hi", "ts": 1718200000},
    ]}, signed_by=secret_fingerprint("someone else's secret"))

    services.webhook_events_drain()

    delivery.refresh_from_db()
    assert delivery.status == WebhookEvent.Status.REJECTED
    assert not Message.objects.exists()


def test_an_unusable_delivery_of_another_provider_is_kept_and_rejected(number, line_provider):
    delivery = _stored({"to": number.phone_number_id}, signed_by=secret_fingerprint("test-app-secret"))

    services.webhook_events_drain()

    delivery.refresh_from_db()
    assert delivery.status == WebhookEvent.Status.REJECTED
    assert "not a line delivery" in delivery.reason
    assert bytes(delivery.body)  # kept as received


def test_a_provider_without_a_reader_waits_as_a_dead_letter(number):
    delivery = WebhookEvent.objects.create(provider="nobody", body=b"{}", signature=WebhookEvent.Signature.VALID,
                                           signed_by=secret_fingerprint("test-app-secret"))

    services.webhook_events_drain()

    delivery.refresh_from_db()
    assert delivery.status == WebhookEvent.Status.DEAD
    assert "no inbound format for provider 'nobody'" in delivery.error
    with pytest.raises(LookupError):
        inbound_format("nobody")


def test_meta_and_the_simulator_share_metas_reader():
    assert inbound_format("meta") is inbound_format("simulator")
