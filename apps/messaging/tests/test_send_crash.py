"""A send worker that dies holding claims: each call is recorded just before its
request goes out, so the claims whose call never started are given back and sent
once, only the calls that started are shown interrupted, and Meta's later status,
which echoes our message id (biz_opaque_callback_data), settles those.

Tasks queued by the code under test are recorded, not run (`queued`); the test runs
them as a worker would."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging import tasks
from apps.messaging.callback_data import callback_data, callback_message_id
from apps.messaging.models import Message, PendingStatus, Status
from apps.messaging.sending import INTERRUPTED_TITLE, batch, claim, kick, ratelimit
from apps.messaging.sending.payload import meta_payload
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.providers.meta.client import client_for
from apps.providers.meta.signature import secret_fingerprint
from apps.simulator import webhooks as simulated
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.inbound.models import WebhookEvent
from apps.inbound.services import webhook_events_drain

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerDied(BaseException):
    """The worker process killed (nothing after this line of the send runs)."""


@pytest.fixture
def queued(simulator, settings, monkeypatch):  # noqa: F811
    calls = []
    monkeypatch.setattr(kick, "dispatch", lambda task, *args, countdown=None, **kw: calls.append((task, args)))
    return calls


@pytest.fixture
def number():
    number = ConversationFactory().number
    ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))
    ratelimit.reset()
    yield number
    ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))


def pending(number, count):
    """`count` pending text messages of `number`, each to a customer of its own."""
    return [
        OutboundMessageFactory(
            conversation=ConversationFactory(number=number, organization=number.organization,
                                             contact=ContactFactory(organization=number.organization)),
            text=f"Crash {number.pk} {i}", content={"body": f"Crash {number.pk} {i}"})
        for i in range(count)
    ]


def accepted(message) -> list[SimulatedMessage]:
    return list(SimulatedMessage.objects.filter(payload__text__body=message.text))


def claims_age(messages, seconds):
    """Time passes for these claims: taken `seconds` ago."""
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        send_started_at=timezone.now() - timedelta(seconds=seconds))


def run_queued(queued):
    """Run the queued send tasks as a worker would; their outcomes by message id."""
    outcomes = {}
    while queued:
        task, args = queued.pop(0)
        if task == "messaging.send_message":
            outcomes[args[0]] = tasks.send_message.run(*args)
    return outcomes


def meta_status(simulated_message, state):
    """Meta's status of a message it accepted, as the simulator builds it (echoing
    the send's biz_opaque_callback_data), stored as the webhook view stores it."""
    number = Message.objects.get(pk=callback_message_id(
        simulated_message.payload["biz_opaque_callback_data"])).number
    body = simulated.status_body(number, wamid=simulated_message.wamid, status=state,
                                 recipient=simulated_message.customer,
                                 callback_data=simulated_message.payload["biz_opaque_callback_data"])
    WebhookEvent.objects.create(body=json.dumps(body).encode(), signature=WebhookEvent.Signature.VALID,
                                signed_by=secret_fingerprint(number.app_secret))


def test_a_worker_dying_mid_batch_leaves_only_its_started_calls_interrupted_and_meta_settles_them(
        queued, number, monkeypatch, published):
    # 5/s: the batch's five slots are 0.2 s apart. (A busy machine's
    # sender loop may start a call more than LATE_SLOT after its slot: the batch
    # would give it a new slot, which a dead worker never does.)
    number.rate_limit_per_second = 5
    number.save(update_fields=["rate_limit_per_second"])
    monkeypatch.setattr(batch, "LATE_SLOT", 5.0)
    messages = pending(number, 5)
    real, recorded = claim.calls_start, []

    def dies_recording_the_third(ids, claimed_at):
        if messages[2].pk in ids:
            raise WorkerDied
        recorded.append(ids)
        return real(ids, claimed_at)

    monkeypatch.setattr(claim, "calls_start", dies_recording_the_third)
    with pytest.raises(WorkerDied):
        tasks.send_pending.run(number.pk)
    monkeypatch.setattr(claim, "calls_start", real)
    started, unstarted = messages[:2], messages[2:]
    # The first wave's (5/s: 100 ms of slots and the burst) before the slots were reserved.
    assert recorded == [[started[0].pk, started[1].pk]]
    # The two recorded calls went out (the sender loop made them); nobody stored their answers.
    deadline = time.monotonic() + 30
    while SimulatedMessage.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(len(accepted(m)) for m in messages) == [0, 0, 0, 1, 1]
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    assert all(rows[m.pk].send_started_at and rows[m.pk].wamid is None for m in messages)
    assert [bool(rows[m.pk].call_started_at) for m in messages] == [True, True, False, False, False]

    # Before its claims expire nothing is touched: the sweeper queues nothing.
    assert tasks.sweep_pending.run() == 0
    # Later: the claims whose call never started are given back and sent, once.
    claims_age(messages, claim.UNSTARTED_EXPIRY + 1)
    assert tasks.sweep_pending.run() == 3
    assert run_queued(queued) == {m.pk: "sent" for m in unstarted}
    assert [len(accepted(m)) for m in messages] == [1] * 5
    for m in unstarted:
        row = Message.objects.get(pk=m.pk)
        assert (row.status, row.wamid, row.send_attempts) == (Status.SENT, accepted(m)[0].wamid, 1)
    # The started calls keep their claims until no run can still hold them...
    assert tasks.sweep_pending.run() == 0
    claims_age(started, claim.claim_expiry() + 1)
    assert tasks.sweep_pending.run() == 2
    assert run_queued(queued) == {m.pk: "interrupted" for m in started}
    for m in started:
        row = Message.objects.get(pk=m.pk)
        assert (row.status, row.error_title, row.wamid) == (Status.FAILED, INTERRUPTED_TITLE, None)
    assert [len(accepted(m)) for m in messages] == [1] * 5  # never resent

    # ...and Meta's statuses, echoing our ids, settle them.
    meta_status(accepted(started[0])[0], "delivered")
    meta_status(accepted(started[1])[0], "sent")
    assert webhook_events_drain() == 2
    for m, state in zip(started, (Status.DELIVERED, Status.SENT)):
        row = Message.objects.get(pk=m.pk)
        assert (row.status, row.wamid, row.error_title, row.error_message, row.failed_at) == (
            state, accepted(m)[0].wamid, "", "", None)
    settled = {data["id"]: data["status"] for event, data, _ in published if event == "message.updated"}
    assert (settled[started[0].pk], settled[started[1].pk]) == ("delivered", "sent")
    assert not PendingStatus.objects.exists()


def test_no_round_trip_to_the_database_comes_between_a_slot_and_its_call(queued, number, monkeypatch):
    # 80/s: 16 slots 13 ms apart, four waves of 50 ms; the number's slots are free, so
    # the first wave's calls (and the burst's) are recorded before the reservation,
    # each later wave just before it is due.
    from apps.providers.meta import transport

    steps = []
    record, reserve, schedule = claim.calls_start, ratelimit.send_reserve_batch, transport.Sender.schedule
    monkeypatch.setattr(claim, "calls_start", lambda ids, at: steps.append(("record", len(ids))) or record(ids, at))
    monkeypatch.setattr(ratelimit, "send_reserve_batch",
                        lambda *args, **kw: steps.append(("reserve", len(args[1]))) or reserve(*args, **kw))
    monkeypatch.setattr(transport.Sender, "schedule",
                        lambda self, calls, **kw: steps.append(("schedule", len(calls))) or schedule(self, calls, **kw))
    monkeypatch.setattr(batch, "LATE_SLOT", 5.0)  # a busy machine's loop: one round only
    messages = pending(number, 16)
    assert tasks.send_pending.run(number.pk) == 16
    names = [name for name, _count in steps]
    assert names[:3] == ["record", "reserve", "schedule"]
    assert names[3:] == ["record", "schedule"] * (len(names) - 3 >> 1) and len(names) > 3
    assert [count for name, count in steps if name == "reserve"] == [16]
    assert sum(count for name, count in steps if name == "record") == 16  # each call recorded once
    assert sum(count for name, count in steps if name == "schedule") == 16
    assert Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENT).count() == 16


def test_a_recorded_call_keeps_its_claim_and_a_claim_given_back_is_never_called():
    first = OutboundMessageFactory()
    second = OutboundMessageFactory(conversation=first.conversation)
    picture = OutboundMessageFactory(conversation=first.conversation, type="image",
                                     content={"link": "https://example.com/a.png"})
    ids = [first.pk, second.pk, picture.pk]
    claimed_at = timezone.now()
    assert len(claim.messages_claim(claimed_at=claimed_at, ids=ids)) == 3
    assert claim.calls_start([first.pk], claimed_at) == {first.pk}
    # A young claim is never given back, whether its call started or not.
    assert claim.claims_release(ids, timezone.now()) == []
    later = timezone.now() + timedelta(seconds=claim.UNSTARTED_EXPIRY + 1)
    # Its holder may yet make a recorded call: kept. A media message's upload comes
    # before its call: kept until claim_expiry().
    assert claim.claims_release(ids, later) == [second.pk]
    assert claim.claims_release(ids, timezone.now() + timedelta(seconds=claim.claim_expiry() + 1)) == [picture.pk]
    rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
    assert (rows[second.pk].status, rows[second.pk].send_started_at, rows[second.pk].send_attempts) == (
        Status.PENDING, None, 0)
    assert rows[first.pk].send_started_at == claimed_at and rows[first.pk].call_started_at is not None
    # The old holder, late, cannot record (nor make) the call of a claim given back,
    # neither before another claim nor after it.
    assert claim.calls_start([second.pk], claimed_at) == set()
    again = timezone.now()
    (loaded,) = claim.messages_claim(claimed_at=again, ids=[second.pk])
    assert loaded.call_started_at is None and loaded.send_attempts == 1
    assert claim.calls_start([second.pk], claimed_at) == set()
    assert claim.calls_start([second.pk], again) == {second.pk}


def test_every_send_carries_our_message_id_for_meta_to_echo(queued, number):
    texts = pending(number, 2)
    picture = OutboundMessageFactory(conversation=texts[0].conversation, type="image",
                                     content={"link": "https://example.com/a.png"})
    assert tasks.send_pending.run(number.pk) == 2  # a batch
    assert tasks.send_message.run(picture.pk) == "sent"  # a message alone
    sent = {callback_message_id(m.payload["biz_opaque_callback_data"]): m.wamid
            for m in SimulatedMessage.objects.all()}
    assert sent == dict(Message.objects.filter(pk__in=[m.pk for m in [*texts, picture]]).values_list("pk", "wamid"))


def test_a_status_naming_a_message_whose_answer_is_on_its_way_takes_it_at_once(queued, number):
    # The worker made the call and is gone (or slow): Meta's status comes first.
    (message,) = pending(number, 1)
    claimed_at = timezone.now()
    (loaded,) = claim.messages_claim(claimed_at=claimed_at, ids=[message.pk])
    assert claim.calls_start([message.pk], claimed_at) == {message.pk}
    wamid = client_for(number).send_message(meta_payload(loaded))["messages"][0]["id"]
    meta_status(SimulatedMessage.objects.get(wamid=wamid), "read")
    assert webhook_events_drain() == 1
    row = Message.objects.get(pk=message.pk)
    assert (row.status, row.wamid) == (Status.READ, wamid)
    # Its task, redelivered, finds it done: never sent again nor marked interrupted.
    claims_age([message], claim.claim_expiry() + 1)
    assert tasks.send_message.run(message.pk) == "done"
    assert Message.objects.get(pk=message.pk).status == Status.READ
    assert SimulatedMessage.objects.count() == 1


def test_an_echoed_id_that_is_not_ours_names_no_message(number):
    interrupted = OutboundMessageFactory(conversation=ConversationFactory(number=number,
                                                                          organization=number.organization),
                                         status=Status.FAILED, error_title=INTERRUPTED_TITLE)
    elsewhere = OutboundMessageFactory(status=Status.FAILED, error_title=INTERRUPTED_TITLE)  # another number's
    forged = f"{interrupted.pk}:{callback_data(interrupted.pk).split(':', 1)[1][::-1]}"
    assert callback_message_id(forged) is None and callback_message_id("") is None
    assert callback_message_id(callback_data(interrupted.pk)) == interrupted.pk
    for wamid, data in (("wamid.FORGED", forged), ("wamid.ELSEWHERE", callback_data(elsewhere.pk))):
        body = simulated.status_body(number, wamid=wamid, status="delivered", recipient="5511999990001",
                                     callback_data=data)
        WebhookEvent.objects.create(body=json.dumps(body).encode(), signature=WebhookEvent.Signature.VALID,
                                    signed_by=secret_fingerprint(number.app_secret))
    assert webhook_events_drain() == 2
    assert sorted(PendingStatus.objects.values_list("wamid", flat=True)) == ["wamid.ELSEWHERE", "wamid.FORGED"]
    for message in (interrupted, elsewhere):
        row = Message.objects.get(pk=message.pk)
        assert (row.status, row.wamid, row.error_title) == (Status.FAILED, None, INTERRUPTED_TITLE)
