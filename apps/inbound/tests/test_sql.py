"""The hand-written SQL of the inbound pipeline (apps/inbound/sql.py)."""

import json

import pytest
from django.utils import timezone

from apps.inbound import sql
from apps.inbound.models import WebhookEvent
from apps.providers.meta.signature import secret_fingerprint
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db


def test_a_delivery_is_stored_as_received_with_its_provider_and_signer():
    body = json.dumps(load_fixture("text.json")).encode()
    sql.delivery_insert(provider="simulator", body=body, headers={"CONTENT_TYPE": "application/json"},
                        remote_addr="10.0.0.1", signed_by=secret_fingerprint("b-secret"))

    event = WebhookEvent.objects.get()
    assert (event.provider, bytes(event.body), event.headers, event.remote_addr) == (
        "simulator", body, {"CONTENT_TYPE": "application/json"}, "10.0.0.1")
    assert (event.status, event.signature, event.signed_by, event.attempts, event.repeats) == (
        WebhookEvent.Status.RECEIVED, WebhookEvent.Signature.VALID, secret_fingerprint("b-secret"), 0, 1)


def test_a_refused_body_is_one_row_counting_its_repeats():
    for _ in range(3):
        sql.delivery_refused_upsert(provider="meta", body=b"{}", digest="d" * 64, headers={}, remote_addr=None,
                                    signature=WebhookEvent.Signature.MISSING, reason="signature missing",
                                    signed_by="")
    sql.delivery_refused_upsert(provider="meta", body=b"[]", digest="e" * 64, headers={}, remote_addr=None,
                                signature=WebhookEvent.Signature.INVALID, reason="signature invalid", signed_by="")

    rows = {e.body_sha256: e for e in WebhookEvent.objects.all()}
    assert (rows["d" * 64].repeats, rows["d" * 64].status, rows["d" * 64].reason) == (
        3, WebhookEvent.Status.REJECTED, "signature missing")
    assert rows["e" * 64].repeats == 1


def test_many_deliveries_are_saved_with_one_statement(django_assert_num_queries):
    events = [WebhookEvent.objects.create(body=b"{}", signature=WebhookEvent.Signature.VALID) for _ in range(3)]
    now = timezone.now()
    for i, event in enumerate(events):
        event.status, event.reason, event.attempts, event.processed_at = (
            WebhookEvent.Status.PROCESSED, f"note {i}", i + 1, now)

    with django_assert_num_queries(1):
        sql.deliveries_save(events, fields=("status", "reason", "attempts", "processed_at"))

    for i, event in enumerate(WebhookEvent.objects.order_by("pk")):
        assert (event.status, event.reason, event.attempts, event.processed_at) == (
            WebhookEvent.Status.PROCESSED, f"note {i}", i + 1, now)
