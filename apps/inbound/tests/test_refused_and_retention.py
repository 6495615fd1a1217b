"""Deliveries we could not authenticate cannot grow the database without limit:
a prefix and the hash of each body are kept, the same body again is a repeat on one
row, and past WEBHOOK_REFUSED_PER_MINUTE a minute they are only counted. Stored
deliveries are pruned on a schedule."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.messaging.models import Message
from apps.inbound import services
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.inbound.services import receiving
from apps.whatsapp.tests.utils import load_fixture, post_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_counter(mirrored, monkeypatch):
    # A counter of this test's own: the shared one (one Redis for parallel workers)
    # neither limits nor is filled by the hundreds of deliveries sent here.
    monkeypatch.setattr(receiving, "REFUSED_COUNTER_KEY", f"test:{uuid.uuid4().hex}:{{minute}}")


def _big(i: int, size: int = 1024 * 1024) -> bytes:
    head = b'{"object": "whatsapp_business_account", "n": %d, "pad": "' % i
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("secret", [None, "forged-secret"])
def test_an_unauthenticated_body_keeps_a_prefix_and_its_hash(client, number, secret):
    body = _big(1)
    response = post_webhook(client, body, secret=secret)
    assert response.status_code == 401
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body[:1024]
    assert (event.body_sha256, event.repeats, event.status, event.signed_by) == (
        hashlib.sha256(body).hexdigest(), 1, WebhookEvent.Status.REJECTED, "")


def test_the_same_unauthenticated_body_again_is_one_row_counted(client, number, settings):
    settings.WEBHOOK_REFUSED_PER_MINUTE = 1000
    body = _big(7)
    for _ in range(200):
        assert post_webhook(client, body, secret=None).status_code == 401
    event = WebhookEvent.objects.get()
    assert (event.repeats, len(bytes(event.body))) == (200, 1024)


def test_unauthenticated_bodies_past_the_rate_are_only_counted(client, number, settings, deliver, monkeypatch):
    settings.WEBHOOK_REFUSED_PER_MINUTE = 5
    # One minute throughout: on a slow machine the posts could straddle a new minute.
    monkeypatch.setattr(receiving.time, "time", lambda: 7_000_030.0)
    answers = [post_webhook(client, _big(i, 4096), secret=None if i % 2 else "forged").status_code
               for i in range(200)]
    assert answers == [401] * 5 + [429] * 195
    assert WebhookEvent.objects.count() == 5
    assert sum(len(bytes(body)) for body in WebhookEvent.objects.values_list("body", flat=True)) == 5 * 1024
    # Oversized bodies count too.
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    assert post_webhook(client, _big(999, 2000), secret=None).status_code == 429
    assert WebhookEvent.objects.count() == 5
    # Genuine deliveries are not limited.
    settings.WEBHOOK_MAX_BODY_BYTES = 3 * 1024 * 1024
    assert deliver(load_fixture("text.json")).status_code == 200
    assert Message.objects.count() == 1
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.REJECTED).count() == 5


def test_the_rate_is_per_minute(client, number, settings, monkeypatch):
    settings.WEBHOOK_REFUSED_PER_MINUTE = 1
    clock = [6_000_000.0]
    monkeypatch.setattr(receiving.time, "time", lambda: clock[0])
    assert [post_webhook(client, _big(i, 2048), secret=None).status_code for i in range(2)] == [401, 429]
    clock[0] += 60
    assert post_webhook(client, _big(3, 2048), secret=None).status_code == 401
    assert WebhookEvent.objects.count() == 2


def test_without_the_shared_counter_nothing_unauthenticated_is_stored(client, number, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "incr", down)
    assert post_webhook(client, _big(1, 2048), secret=None).status_code == 429
    assert WebhookEvent.objects.count() == 0


def test_a_signed_malformed_body_again_is_a_repeat_on_its_row(deliver, number):
    for _ in range(3):
        assert deliver(b"not json at all").status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.repeats, bytes(event.body), event.reason) == (
        3, b"not json at all", "malformed body: body is not JSON")


# --- Retention -------------------------------------------------------------------------------------


def _aged(status, days, **kwargs):
    event = WebhookEvent.objects.create(body=b"{}", signature=WebhookEvent.Signature.VALID, status=status, **kwargs)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=days))
    return event.pk


def test_the_prune_deletes_only_what_is_past_its_retention(settings, number):
    settings.WEBHOOK_RETENTION_DAYS = 30
    settings.WEBHOOK_REJECTED_RETENTION_DAYS = 7
    Status = WebhookEvent.Status
    gone = [_aged(Status.PROCESSED, 31), _aged(Status.UNROUTED, 31), _aged(Status.REJECTED, 8),
            _aged(Status.REJECTED, 8, body_sha256="a" * 64, repeats=40)]
    kept = [_aged(Status.PROCESSED, 29), _aged(Status.UNROUTED, 29), _aged(Status.REJECTED, 6),
            _aged(Status.RECEIVED, 400), _aged(Status.FAILED, 400), _aged(Status.DEAD, 400)]
    notice = AccountEvent.objects.create(organization=number.organization, waba_id="1", field="account_update",
                                         webhook_event_id=gone[0])
    assert services.webhook_events_prune(batch=2) == 4
    assert sorted(WebhookEvent.objects.values_list("pk", flat=True)) == sorted(kept)
    notice.refresh_from_db()
    assert notice.webhook_event_id is None
    assert services.webhook_events_prune() == 0


def test_the_prune_runs_on_the_beat(settings):
    from apps.inbound import tasks
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["inbound-prune-webhook-events"]
    assert (entry["task"], entry["schedule"]) == ("inbound.prune_webhook_events", 3600.0)
    app.loader.import_default_modules()
    assert app.tasks[entry["task"]].name == tasks.prune_webhook_events.name


def test_the_prune_task_prunes(settings):
    from apps.inbound import tasks

    settings.WEBHOOK_REJECTED_RETENTION_DAYS = 7
    _aged(WebhookEvent.Status.REJECTED, 8)
    tasks.prune_webhook_events()
    assert WebhookEvent.objects.count() == 0
