"""The drain under database faults (issue 19): two drains never deadlock on their
numbers' rows, a delivery that failed only on the database's moment is tried again
within a second, and a drain that finds its connection cut is tried again within
seconds rather than left for the sweep."""

import json
import threading

import psycopg
import pytest
from django.db import connection, connections, transaction

from apps.conversations.tests.factories import ConversationFactory
from apps.inbound import services, tasks
from apps.inbound.models import WebhookEvent
from apps.messaging.models import Message, Status
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.providers.meta.signature import secret_fingerprint
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import envelope, message, messages_change, status

pytestmark = pytest.mark.django_db(transaction=True)


def _store(payload) -> WebhookEvent:
    return WebhookEvent.objects.create(body=json.dumps(payload).encode(), signature=WebhookEvent.Signature.VALID,
                                       signed_by=secret_fingerprint("test-app-secret"))


def _sent(number, wamid) -> Message:
    conversation = ConversationFactory(number=number, organization=number.organization)
    return OutboundMessageFactory(conversation=conversation, number=number, organization=number.organization,
                                  status=Status.SENT, wamid=wamid)


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:  # pg_locks is read live, even inside a transaction
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


def _in_thread(func):
    """Run `func` in a thread with its own database connection; the thread and what it raised."""
    outcome = {}

    def target():
        try:
            outcome["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_a_drain_locks_its_numbers_rows_in_one_order_whatever_order_its_deliveries_came_in():
    # Two numbers of one organisation; one delivery with a status for each, the higher
    # number's first. Another transaction (another drain) holds the lower number's
    # message: the drain must wait for it holding nothing of the higher number's, so
    # that the other transaction can take that one next instead of the two waiting
    # for each other in a circle (PostgreSQL's deadlock, found after a second, one of
    # them undone and its deliveries failed).
    low = WhatsAppNumberFactory()
    high = WhatsAppNumberFactory(organization=low.organization)
    assert low.pk < high.pk
    first, second = _sent(low, "wamid.LOW"), _sent(high, "wamid.HIGH")
    event = _store(envelope(
        messages_change(phone_number_id=high.phone_number_id, statuses=[status("wamid.HIGH", "delivered")]),
        messages_change(phone_number_id=low.phone_number_id, statuses=[status("wamid.LOW", "delivered")]),
        waba_id=low.waba_id))
    drain = None
    try:
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=first.pk)
            drain, outcome = _in_thread(services.webhook_events_drain)
            while not _waiting_on_a_lock():
                threading.Event().wait(0.01)
            # The drain waits for the lower number's row: the higher one's is free.
            Message.objects.select_for_update(nowait=True).get(pk=second.pk)
    finally:
        if drain is not None:
            drain.join()
    assert outcome == {"value": 1}
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    assert set(Message.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        Status.DELIVERED}


def test_a_delivery_failed_on_a_lock_it_could_not_take_is_tried_again_within_a_second(number, monkeypatch):
    from apps.core import tasks as core_tasks
    from apps.messaging.services import inbound

    held = _sent(number, "wamid.HELD")
    real = inbound.message_content

    def locking(kind, content, raw):
        if content.get("body") == "needs the row":  # a real refusal by PostgreSQL (55P03)
            Message.objects.select_for_update(nowait=True).get(pk=held.pk)
        return real(kind, content, raw)

    monkeypatch.setattr(inbound, "message_content", locking)
    queued = []
    monkeypatch.setattr(core_tasks, "enqueue", lambda task, *args, countdown=None, **kw: queued.append(
        (getattr(task, "name", task), args, countdown)))
    event = _store(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", wamid="wamid.L1", from_="5511900000001", timestamp=1718200001, body="needs the row")])))
    holder_ready, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=held.pk)
            holder_ready.set()
            release.wait()

    holder, outcome = _in_thread(hold)
    holder_ready.wait()
    try:
        assert services.webhook_events_drain() == 1
    finally:
        release.set()
        holder.join()
    assert outcome == {"value": None}
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.FAILED, 1)
    assert "LockNotAvailable" in event.error or "could not obtain lock" in event.error
    # Not the 30 s of a delivery that failed on its content.
    assert queued == [("inbound.process_webhook_event", (event.pk,), 1)]
    # Its retry, with the row free, stores the message.
    tasks.process_webhook_event(event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.PROCESSED, 2)
    assert Message.objects.filter(wamid="wamid.L1").exists()


def test_a_drain_whose_connection_was_cut_is_tried_again_within_seconds(number, task_queue):
    event = _store(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", wamid="wamid.C1", from_="5511900000001", timestamp=1718200001, body="after the cut")])))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as admin:  # as an operator's pg_terminate_backend
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])
    # As a worker runs it: a request of its own, not called directly.
    tasks.drain_webhook_events.push_request(id="d1", args=[], kwargs={}, retries=0, called_directly=False,
                                            delivery_info={})
    try:
        with pytest.raises(Exception) as raised:
            tasks.drain_webhook_events.run()
    finally:
        tasks.drain_webhook_events.pop_request()
        connection.close()  # the cut connection: the next query opens another
    assert type(raised.value).__name__ == "Retry"
    retry = task_queue.delayed[-1]
    assert (retry.task.name, retry.countdown) == ("inbound.drain_webhook_events", 1)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED  # nothing half done
    assert task_queue.run_delayed("inbound.drain_webhook_events") == 1
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert Message.objects.filter(wamid="wamid.C1").exists()


def test_database_failures_of_the_moment_are_told_from_failures_of_the_delivery():
    from django.db import IntegrityError, OperationalError

    def wrapped(error):  # as Django raises a driver's error
        try:
            try:
                raise error
            except psycopg.Error as exc:
                raise OperationalError(str(exc)) from exc
        except OperationalError as exc:
            return exc

    assert services.transient(wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert services.transient(wrapped(psycopg.errors.SerializationFailure("could not serialize")))
    assert services.transient(wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert services.transient(wrapped(psycopg.OperationalError("the connection is closed")))
    assert not services.transient(IntegrityError("duplicate key"))
    assert not services.transient(wrapped(psycopg.errors.NotNullViolation("null value")))
    assert not services.transient(RuntimeError("a bug"))
    assert [services.retry_delay(n, transient=True) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 64, 128]
