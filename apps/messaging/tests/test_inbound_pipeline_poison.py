"""End to end (signed POST, the stored delivery processed): a delivery whose strings
no column can hold is processed, not retried to dead letter (audit, issue 16,
point 12). Meant for PostgreSQL, which refuses NUL in text and jsonb."""

import json

import pytest

from apps.conversations.models import Contact
from apps.media.models import Media
from apps.messaging.models import Message
from apps.inbound.models import WebhookEvent
from apps.whatsapp.tests.conftest import CUSTOMER, deliver, mirrored, number  # noqa: F401
from apps.whatsapp.tests.utils import envelope, message, messages_change

pytestmark = pytest.mark.django_db


def poisoned_body(number) -> dict:
    change = messages_change(
        phone_number_id=number.phone_number_id,
        messages=[
            message("document", wamid="wamid.DOC\u0000", from_=CUSTOMER, id="1234567890",
                    filename="contrato\u0000.pdf", caption="assinado\ud800", mime_type="application/pdf"),
            message("text", wamid="wamid.TXT", from_=CUSTOMER, body="ol\u00e1\u0000 \udfff"),
        ],
        contacts=[{"wa_id": CUSTOMER, "profile": {"name": "Maria\u0000 Souza" + "x" * 300}}],
    )
    return envelope(change)


def test_a_delivery_with_nul_and_lone_surrogates_is_processed_and_nothing_lost(deliver, number, mirrored):
    response = deliver(poisoned_body(number))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.error) == (WebhookEvent.Status.PROCESSED, "")
    assert list(Message.objects.order_by("wamid").values_list("wamid", "text")) == [
        ("wamid.DOC", "assinado contrato.pdf"), ("wamid.TXT", "olá ")]
    document = Message.objects.get(wamid="wamid.DOC")
    assert document.content == {"id": "1234567890", "filename": "contrato.pdf", "caption": "assinado",
                                "mime_type": "application/pdf"}
    media = Media.objects.get()
    assert (media.filename, media.state) == ("contrato.pdf", "pending")
    assert mirrored == [media.pk]
    assert Contact.objects.get().profile_name == ("Maria Souza" + "x" * 300)[:200]
    # The stored delivery itself is kept as it came.
    assert "contrato\\u0000.pdf" in bytes(event.body).decode()


def test_the_same_poisoned_delivery_again_changes_nothing(deliver, number, mirrored):
    deliver(poisoned_body(number))
    deliver(poisoned_body(number))
    assert Message.objects.count() == 2
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["processed", "processed"]
    assert json.loads(bytes(WebhookEvent.objects.first().body))["object"] == "whatsapp_business_account"


def test_oversized_ids_and_a_contact_card_that_is_not_an_object_lose_no_message(deliver, number, mirrored):
    long_from = "55" + "9" * 40
    change = messages_change(
        phone_number_id=number.phone_number_id,
        messages=[
            message("text", wamid="wamid." + "L" * 300, from_=CUSTOMER, body="a long wamid"),
            message("text", wamid="wamid.FROM", from_=long_from, body="a long from"),
            message("contacts", wamid="wamid.CARD", from_=CUSTOMER, contacts=["not an object", 7]),
        ],
        contacts=[{"wa_id": CUSTOMER, "profile": {"name": "Maria"}}],
    )
    response = deliver(envelope(change))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.error) == (WebhookEvent.Status.PROCESSED, "")
    texts = dict(Message.objects.values_list("text", "wamid"))
    assert set(texts) >= {"a long wamid", "a long from"}
    assert Message.objects.filter(wamid="wamid.CARD").exists()
    assert len(texts["a long wamid"]) <= 255


def test_a_body_nested_deeper_than_any_parser_goes_is_kept_as_malformed_with_200(deliver, number):
    body = '{"object": "whatsapp_business_account", "entry": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = deliver(body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.REJECTED, (event.status, event.error)
    assert "malformed" in event.reason
