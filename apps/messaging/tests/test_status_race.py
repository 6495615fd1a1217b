"""A status drained while the send stores its message's wamid: on real PostgreSQL, two
connections (a thread each), under READ COMMITTED, neither transaction sees the
other's rows. The status is applied whichever commits last, and the periodic
reconciliation applies what is left and expires what never finds its message."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.messaging import tasks
from apps.messaging.callback_data import callback_data
from apps.messaging.models import Message, PendingStatus, Status
from apps.messaging.sending import INTERRUPTED_TITLE, claim, outcome
from apps.messaging.services import statuses
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.providers.meta.signature import secret_fingerprint
from apps.inbound.models import WebhookEvent
from apps.inbound.services import webhook_events_drain
from apps.whatsapp.tests.utils import envelope, messages_change, status

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 30  # only ends a hung test


def store_statuses(number, *items):
    """A signed delivery of these statuses, stored as the webhook view stores it."""
    payload = envelope(messages_change(phone_number_id=number.phone_number_id, statuses=list(items)),
                       waba_id=number.waba_id)
    return WebhookEvent.objects.create(body=json.dumps(payload).encode(), signature=WebhookEvent.Signature.VALID,
                                       signed_by=secret_fingerprint(number.app_secret))


class InThread(threading.Thread):
    """Run `target` on a connection of its own; its exception is kept for the test."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target, self.error, self.result = target, None, None

    def run(self):
        try:
            self.result = self.target()
        except BaseException as exc:  # noqa: BLE001 (reported by finish())
            self.error = exc
        finally:
            connection.close()

    def finish(self):
        self.join(WAIT)
        assert not self.is_alive(), "the thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def claimed_message():
    message = OutboundMessageFactory()
    (loaded,) = claim.messages_claim(claimed_at=timezone.now(), ids=[message.pk])
    return loaded


def send_paused_before_commit(monkeypatch, loaded, wamid):
    """The send's answer stored in a thread that stops after its UPDATE, before its
    commit: (the thread, the event set once the wamid is written, the event that
    lets it commit)."""
    written, commit = threading.Event(), threading.Event()
    real = outcome._sent_update

    def paused(sent, sent_at):
        rows = real(sent, sent_at)
        written.set()
        assert commit.wait(WAIT)
        return rows

    monkeypatch.setattr(outcome, "_sent_update", paused)
    thread = InThread(lambda: outcome.answers_store([(loaded, wamid, None, "")]))
    thread.start()
    assert written.wait(WAIT)
    return thread, commit


def test_a_status_drained_between_the_wamids_write_and_its_commit_is_applied(monkeypatch):
    loaded = claimed_message()
    sender, commit = send_paused_before_commit(monkeypatch, loaded, "wamid.RACE1")
    # The drain runs to its commit meanwhile: the wamid is not committed, the status waits.
    store_statuses(loaded.number, status("wamid.RACE1", "delivered", timestamp=1718200010),
                   status("wamid.RACE1", "read", timestamp=1718200020))
    assert webhook_events_drain() == 1
    assert sorted(PendingStatus.objects.values_list("status", flat=True)) == ["delivered", "read"]
    commit.set()
    assert sender.finish() == {loaded.pk: "sent"}
    message = Message.objects.get(pk=loaded.pk)
    assert (message.wamid, message.status) == ("wamid.RACE1", Status.READ)
    assert message.delivered_at is not None and message.read_at is not None
    assert not PendingStatus.objects.exists()


def test_a_send_committed_between_the_drains_insert_and_its_commit_gets_its_status(monkeypatch):
    loaded = claimed_message()
    inserted, commit = threading.Event(), threading.Event()
    real, calls = statuses.statuses_apply, []

    def paused(**kwargs):
        outcomes = real(**kwargs)
        calls.append(outcomes)
        if len(calls) == 1:  # the drain's: its PendingStatus written, not committed
            inserted.set()
            assert commit.wait(WAIT)
        return outcomes

    monkeypatch.setattr(statuses, "statuses_apply", paused)
    store_statuses(loaded.number, status("wamid.RACE2", "read", timestamp=1718200020))
    drain = InThread(webhook_events_drain)
    drain.start()
    assert inserted.wait(WAIT)
    # The send stores the wamid and commits now: it cannot see the waiting status.
    assert outcome.answers_store([(loaded, "wamid.RACE2", None, "")]) == {loaded.pk: "sent"}
    assert Message.objects.get(pk=loaded.pk).status == Status.SENT
    commit.set()
    assert drain.finish() == 1
    message = Message.objects.get(pk=loaded.pk)
    assert (message.wamid, message.status) == ("wamid.RACE2", Status.READ)
    assert not PendingStatus.objects.exists()
    # Applied by the drain's look after its commit, through the one rule.
    assert calls == [["pending"], ["applied"]]


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def test_a_status_naming_the_message_waits_for_the_sends_commit_and_is_applied(monkeypatch):
    # Our id echoed: the drain's look by id meets the send's row lock, waits for its
    # commit, finds the wamid stored then, and the status waits for the drain's commit.
    loaded = claimed_message()
    sender, commit = send_paused_before_commit(monkeypatch, loaded, "wamid.RACE3")
    store_statuses(loaded.number, {**status("wamid.RACE3", "read", timestamp=1718200020),
                                   "biz_opaque_callback_data": callback_data(loaded.pk)})
    drain = InThread(webhook_events_drain)
    drain.start()
    deadline = timezone.now() + timedelta(seconds=WAIT)
    while not _waiting_on_a_lock():
        assert drain.is_alive() and timezone.now() < deadline, "the drain did not wait for the send's lock"
    commit.set()
    assert sender.finish() == {loaded.pk: "sent"}
    assert drain.finish() == 1
    message = Message.objects.get(pk=loaded.pk)
    assert (message.wamid, message.status) == ("wamid.RACE3", Status.READ)
    assert not PendingStatus.objects.exists()


def test_the_reconciliation_applies_what_waits_and_expires_the_old(settings, caplog, monkeypatch):
    settings.PENDING_STATUS_MAX_AGE_HOURS = 24
    # Its wamid was stored, but nothing looked for its statuses (a look that failed).
    stored = OutboundMessageFactory(wamid="wamid.STORED", status=Status.SENT, sent_at=timezone.now())
    number = stored.number

    def waiting(wamid, state, ts, *, age_hours=0.0, **extra):
        item = {**status(wamid, state, timestamp=ts), **extra}
        row = PendingStatus.objects.create(organization=number.organization, number=number, wamid=wamid, status=state,
                                           payload={**item, "_phone_number_id": number.phone_number_id,
                                                    "_waba_id": number.waba_id})
        PendingStatus.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(hours=age_hours))
        return row

    waiting("wamid.STORED", "delivered", 1718200010)
    waiting("wamid.STORED", "read", 1718200020)
    # Interrupted (its answer lost): the status names it by our id.
    interrupted = OutboundMessageFactory(conversation=stored.conversation, status=Status.FAILED,
                                         error_title=INTERRUPTED_TITLE, failed_at=timezone.now())
    waiting("wamid.LOST", "delivered", 1718200030, biz_opaque_callback_data=callback_data(interrupted.pk))
    # Another system's messages: young ones wait, old ones go.
    young = waiting("wamid.OTHER1", "read", 1718200040, age_hours=23)
    waiting("wamid.OTHER2", "read", 1718200050, age_hours=25)
    waiting("wamid.OTHER3", "sent", 1718200060, age_hours=30)

    applied = []
    real = statuses.statuses_apply
    monkeypatch.setattr(statuses, "statuses_apply", lambda **kw: applied.append(kw["updates"]) or real(**kw))
    with caplog.at_level(logging.WARNING, logger="apps.messaging.services.statuses"):
        assert tasks.reconcile_pending_statuses.run() == (3, 2)
    stored.refresh_from_db()
    interrupted.refresh_from_db()
    assert stored.status == Status.READ
    assert (interrupted.wamid, interrupted.status, interrupted.error_title) == ("wamid.LOST", Status.DELIVERED, "")
    assert list(PendingStatus.objects.values_list("pk", flat=True)) == [young.pk]
    assert "deleted 2 statuses that waited over 24 hours for their message" in caplog.text
    # Each through the one rule, statuses_apply.
    assert {u.wamid for updates in applied for u in updates} == {"wamid.LOST", "wamid.STORED"}
    # Nothing left to do: a second run changes nothing.
    assert tasks.reconcile_pending_statuses.run() == (0, 0)


def test_the_reconciliation_runs_every_minute_on_a_consumed_queue():
    entries = [entry for entry in settings_schedule().values()
               if entry["task"] == "messaging.reconcile_pending_statuses"]
    assert [entry["schedule"] for entry in entries] == [60.0]


def settings_schedule():
    from django.conf import settings

    return settings.CELERY_BEAT_SCHEDULE


def _two_messages_stored_out_of_order():
    """Two claimed messages of one number, the one with the lower id written after the
    other (in the table and in its indexes): a scan meets the higher id first."""
    earlier = OutboundMessageFactory()
    high = OutboundMessageFactory(number=earlier.number, conversation=earlier.conversation)
    free_id = earlier.pk
    earlier.delete()
    low = OutboundMessageFactory(id=free_id, number=high.number, conversation=high.conversation)
    (high,) = claim.messages_claim(claimed_at=timezone.now(), ids=[high.pk])
    (low,) = claim.messages_claim(claimed_at=timezone.now(), ids=[low.pk])
    return low, high


def _holding_a_lock_on(pk):
    """A thread holding the row lock of message `pk` until the returned event is set."""
    from django.db import transaction

    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=pk)
            locked.set()
            assert release.wait(WAIT)

    thread = InThread(hold)
    thread.start()
    assert locked.wait(WAIT)
    return thread, release


def _lockable_now(pk) -> bool:
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic():
            Message.objects.select_for_update(nowait=True).get(pk=pk)
    except DatabaseError:
        return False
    return True


def _waits_for_low_without_holding_high(write, low, high):
    """`write` (a statement writing both messages, naming `high` first) runs while
    `low` is locked elsewhere: it must wait for `low` before it locks `high`, so that
    two such statements meeting the rows in opposite orders wait rather than deadlock."""
    import time

    from django.db import transaction

    holder, release = _holding_a_lock_on(low.pk)
    writer = InThread(lambda: transaction.atomic()(write)())
    writer.start()
    deadline = time.monotonic() + WAIT
    while not _waiting_on_a_lock():
        assert time.monotonic() < deadline, "the statement never waited for the lock"
        time.sleep(0.01)
    try:
        assert _lockable_now(high.pk), "the statement locked the higher id before the lower one"
    finally:
        release.set()
        holder.finish()
    return writer.finish()


def test_storing_answers_locks_the_messages_in_id_order():
    low, high = _two_messages_stored_out_of_order()
    stored = _waits_for_low_without_holding_high(
        lambda: outcome._sent_update([(high, "wamid.HIGH"), (low, "wamid.LOW")], timezone.now()), low, high)
    assert set(stored) == {low.pk, high.pk}
    assert dict(Message.objects.filter(pk__in=[low.pk, high.pk]).values_list("pk", "wamid")) == {
        low.pk: "wamid.LOW", high.pk: "wamid.HIGH"}


def test_statuses_naming_unanswered_messages_lock_them_in_id_order():
    from types import SimpleNamespace

    low, high = _two_messages_stored_out_of_order()
    updates = [SimpleNamespace(wamid=f"wamid.{name}", biz_opaque_callback_data=callback_data(message.pk))
               for name, message in (("HIGH", high), ("LOW", low))]
    attached = _waits_for_low_without_holding_high(lambda: statuses._wamids_attach(low.number, updates), low, high)
    assert sorted(attached) == ["wamid.HIGH", "wamid.LOW"]
