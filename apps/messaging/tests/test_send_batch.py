"""Batches: one send task claims and
sends several pending messages of one number, each with its own attempt, and
message_send queues a task only when none is waiting to start (the number's kick).

Tasks queued by the code under test are recorded, not run (`queued`)."""

from types import SimpleNamespace

import pytest
from django.utils import timezone

from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging import tasks
from apps.messaging.sending import INTERRUPTED_TITLE, batch, claim, kick, ratelimit
from apps.messaging.models import Message, Status
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator.models import SimulatedMessage, SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(simulator, settings, monkeypatch):  # noqa: F811
    calls = []
    monkeypatch.setattr(kick, "dispatch", lambda task, *args, countdown=None, **kw: calls.append(
        (task, args, countdown)))
    return calls


@pytest.fixture
def number():
    number = ConversationFactory().number
    # Ids repeat across runs (a new test database): no kick or rate-limit state of an
    # earlier run's number with the same id.
    ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))
    ratelimit.reset()
    yield number
    ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))


def pending(number, count, *, kind="text"):
    """`count` pending messages of `number`, each to a customer of its own."""
    messages = []
    for i in range(count):
        conversation = ConversationFactory(number=number, organization=number.organization,
                                           contact=ContactFactory(organization=number.organization))
        content = {"body": f"Batch {number.pk} {i}"} if kind == "text" else {"link": "https://example.com/a.png"}
        messages.append(OutboundMessageFactory(conversation=conversation, type=kind, text=f"Batch {number.pk} {i}",
                                               content=content))
    return messages


def test_one_task_sends_its_message_and_the_numbers_others_each_claimed_once(queued, number, published, deliveries):
    messages = pending(number, 5)
    deliveries.clear()
    assert tasks.send_message.run(messages[2].pk) == "sent"
    # The batch's five updates left in one delivery, after their commit.
    updates = [[event for event, _data, _groups in delivery if event == "message.updated"] for delivery in deliveries]
    assert [len(events) for events in updates if events] == [5]
    rows = list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk"))
    assert [(m.status, m.send_attempts) for m in rows] == [(Status.SENT, 1)] * 5
    # Each was accepted once, and stored with the wamid of its own accepted copy.
    accepted = dict(SimulatedMessage.objects.values_list("payload__text__body", "wamid"))
    assert len(accepted) == SimulatedMessage.objects.count() == 5
    assert all(accepted[m.text] == m.wamid for m in rows)
    assert sorted(data["id"] for event, data, _ in published if event == "message.updated") == [m.pk for m in rows]
    assert queued == []  # not a full batch: nothing more to queue
    # Run again (a redelivery): nothing is sent twice.
    assert tasks.send_message.run(messages[2].pk) == "done"
    assert tasks.send_pending.run(number.pk) == 0
    assert SimulatedRequest.objects.count() == 5


def test_a_full_batch_queues_the_next_and_media_go_alone(queued, number, monkeypatch):
    monkeypatch.setattr(kick, "BATCH_SIZE", 2)
    image = pending(number, 1, kind="image")[0]
    texts = pending(number, 3)
    assert tasks.send_pending.run(number.pk) == 2
    assert queued == [("messaging.send_pending", (number.pk,), None)]
    assert Message.objects.filter(status=Status.SENT).count() == 2
    image.refresh_from_db()
    assert (image.status, image.send_attempts) == (Status.PENDING, 0)  # media: never taken along
    assert tasks.send_pending.run(number.pk) == 1
    assert set(Message.objects.filter(status=Status.SENT).values_list("pk", flat=True)) == {m.pk for m in texts}


def test_a_number_allowed_many_sends_per_second_takes_larger_batches(queued, number, monkeypatch):
    monkeypatch.setattr(kick, "BATCH_SIZE", 2)
    monkeypatch.setattr(kick, "MAX_BATCH_SIZE", 4)
    monkeypatch.setattr(kick, "number_rates", {})
    number.rate_limit_per_second = 1000
    number.save(update_fields=["rate_limit_per_second"])
    messages = pending(number, 7)
    assert tasks.send_pending.run(number.pk) == 2  # its rate not known yet: the default size
    assert tasks.send_pending.run(number.pk) == 4  # 128 ms of its slots, at most MAX_BATCH_SIZE
    assert tasks.send_pending.run(number.pk) == 1
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert sorted(rows.values_list("status", "send_attempts")) == [(Status.SENT, 1)] * 7
    assert SimulatedRequest.objects.count() == 7


def test_batch_size_follows_the_numbers_rate(monkeypatch):
    monkeypatch.setattr(kick, "number_rates", {1: 80, 2: 1000, 3: 400})
    assert kick.batch_size(1) == kick.BATCH_SIZE == 16
    assert kick.batch_size(2) == kick.MAX_BATCH_SIZE == 128
    assert kick.batch_size(3) == 51
    assert kick.batch_size(4) == 16  # not known yet
    assert kick.batch_size(4, rate=1000) == 128


def test_kick_queues_one_task_until_that_task_starts(queued, number):
    messages = pending(number, 3)
    for message in messages:
        kick.send_kick(message)
    assert queued == [("messaging.send_pending", (number.pk,), None)]  # the number's batch task
    tasks.send_pending.run(number.pk)  # takes all three
    assert Message.objects.filter(status=Status.SENT).count() == 3
    later = pending(number, 1)[0]
    kick.send_kick(later)  # the key went with the task's start: a new task
    assert queued[-1] == ("messaging.send_pending", (number.pk,), None)
    image = pending(number, 2, kind="image")
    for message in image:
        kick.send_kick(message)  # a media message always gets its own task
    assert queued[-2:] == [("messaging.send_message", (image[0].pk,), None),
                           ("messaging.send_message", (image[1].pk,), None)]


def test_errors_in_a_batch_are_settled_per_message(queued, number):
    messages = pending(number, 4)
    inject(fail_code=131000, fail_count=1)  # the first call: transient
    tasks.send_pending.run(number.pk)
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    retried = [m for m in rows.values() if m.status == Status.PENDING]
    assert len(retried) == 1 and sum(m.status == Status.SENT for m in rows.values()) == 3
    (retry,) = retried
    # Its own task, with backoff; its claim given back and its attempt counted. (On a
    # loaded machine the batch may also queue its number's next batch: not a retry.)
    own = [entry for entry in queued if entry[0] != "messaging.send_pending"]
    assert own == [("messaging.send_message", (retry.pk,), own[0][2])]
    assert {entry[1] for entry in queued if entry[0] == "messaging.send_pending"} <= {(number.pk,)}
    assert (retry.send_started_at, retry.send_attempts) == (None, 1) and retry.next_attempt_at is not None
    assert tasks.send_pending.run(number.pk) == 0  # a message waiting for its retry is not taken along
    assert tasks.send_message.run(retry.pk) == "sent"
    retry.refresh_from_db()
    assert (retry.status, retry.send_attempts) == (Status.SENT, 2)
    inject(fail_code=131026, fail_count=1)  # terminal
    failed = pending(number, 1)[0]
    tasks.send_pending.run(number.pk)
    failed.refresh_from_db()
    assert (failed.status, failed.error_code, failed.send_attempts) == (Status.FAILED, 131026, 1)


def test_a_customer_twice_in_a_batch_waits_for_their_pair_limit(queued, number, settings):
    settings.SEND_PAIR_BURST = 1
    first = pending(number, 1)[0]
    again = OutboundMessageFactory(conversation=first.conversation, text="Again", content={"body": "Again"})
    ratelimit.reset(ratelimit.pair_key(number, first.conversation.contact.wa_id))
    tasks.send_pending.run(number.pk)
    first.refresh_from_db()
    again.refresh_from_db()
    assert first.status == Status.SENT
    # The pair refused the second one: not sent, no attempt counted, its own task later.
    assert (again.status, again.send_attempts, again.send_started_at) == (Status.PENDING, 0, None)
    assert again.next_attempt_at > timezone.now()
    assert queued == [("messaging.send_message", (again.pk,), queued[0][2])] and queued[0][2] > 4
    assert SimulatedMessage.objects.count() == 1


def test_the_batch_claim_skips_rows_another_claim_holds(queued, number):
    messages = pending(number, 3)
    now = timezone.now()
    first = claim.messages_claim(claimed_at=now, number_id=number.pk, limit=2)
    second = claim.messages_claim(claimed_at=now, number_id=number.pk, limit=2)
    assert [m.pk for m in first] == [m.pk for m in messages[:2]]
    assert [m.pk for m in second] == [messages[2].pk]
    assert claim.messages_claim(claimed_at=now, number_id=number.pk, limit=2) == []
    assert list(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("send_attempts", flat=True)) == [
        1, 1, 1]


def test_a_batch_claim_takes_at_most_its_limit_whichever_plan_postgresql_picks(queued, number):
    # A plan that runs the pick of the rows again for each row it updates (a nested
    # loop with the pick inside, as PostgreSQL chose on a small table with old
    # statistics) took all five.
    from django.db import connection, transaction

    pending(number, 5)
    with transaction.atomic():
        with connection.cursor() as cursor:
            for setting in ("enable_hashjoin", "enable_hashagg", "enable_mergejoin", "enable_material",
                            "enable_memoize", "enable_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
        claimed = claim.messages_claim(claimed_at=timezone.now(), number_id=number.pk, limit=2)
    assert len(claimed) == 2


def test_claims_beyond_the_numbers_next_second_are_given_back_and_queued_later(queued, number):
    import time

    number.rate_limit_per_second = 4
    number.save(update_fields=["rate_limit_per_second"])
    ratelimit.reset(ratelimit.number_key(number))
    messages = pending(number, 6)
    tasks.send_pending.run(number.pk)
    # Slots ~0.26 s apart: four within the second; two given back.
    deadline = time.monotonic() + 30
    while not queued and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk"))
    assert [(m.status, m.send_attempts, m.send_started_at) for m in rows[4:]] == [(Status.PENDING, 0, None)] * 2
    assert [m.status for m in rows[:4]] == [Status.SENT] * 4
    assert queued == [("messaging.send_pending", (number.pk,), queued[0][2])] and queued[0][2] > 0
    ratelimit.reset(ratelimit.number_key(number))


def test_a_batch_task_does_not_claim_while_the_numbers_slots_are_taken_far_ahead(queued, number):
    messages = pending(number, 2)
    kick.number_keys[number.pk] = ratelimit.number_key(number)
    ratelimit.reset(ratelimit.number_key(number))
    slow = ratelimit.Limit(ratelimit.number_key(number), rate=1)
    for _ in range(3):  # the number's slots taken for the next 3 s
        ratelimit.reserve([slow], max_wait=5)
    assert tasks.send_pending.run(number.pk) == 0
    assert list(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("send_attempts", flat=True)) == [
        0, 0]
    ((name, args, countdown),) = queued
    assert (name, args) == ("messaging.send_pending", (number.pk,)) and 2.0 < countdown <= 2.5
    ratelimit.reset(ratelimit.number_key(number))


def test_without_the_kick_key_a_task_is_queued_anyway(queued, number, monkeypatch):
    """Redis refusing the kick key: a task is queued all the same (an extra one is harmless)."""
    class Down:
        def set(self, *args, **kwargs):
            raise ConnectionError("redis down")

    messages = pending(number, 1)
    monkeypatch.setattr(kick, "ratelimit", SimpleNamespace(client=lambda: Down()))
    kick.send_kick(messages[0])
    assert queued == [("messaging.send_pending", (number.pk,), None)]


def _claimed_state(message):
    """What a claimed message holds: its attributes and those of the instances it
    carries, their state, and the fields left to load on access."""
    def state(obj):
        if obj is None:
            return None
        values = {k: v for k, v in obj.__dict__.items() if k != "_state"}
        return (type(obj), values, obj._state.adding, obj._state.db, obj.get_deferred_fields())

    conversation = message.conversation
    return [state(message), state(conversation), state(conversation.contact), state(message.number),
            state(message.author)]


def test_claimed_instances_are_what_the_orm_builds(queued, number):
    from django.db.models.signals import post_init

    from apps.accounts.tests.factories import UserFactory

    first, second = pending(number, 2)
    Message.objects.filter(pk=second.pk).update(author=UserFactory(organization=number.organization))
    now = timezone.now()

    def claim_two():
        claimed = claim.messages_claim(claimed_at=now, number_id=number.pk, limit=2)
        Message.objects.filter(pk__in=[first.pk, second.pk]).update(send_started_at=None, send_attempts=0)
        return claimed

    def orm_two():
        # The same rows, as the ORM builds them with the same columns (what the claim
        # loads of the conversation, the contact and the author).
        return list(
            Message.objects.filter(pk__in=[first.pk, second.pk])
            .select_related("number", "conversation__contact", "author")
            .only(*[f.name for f in Message._meta.concrete_fields],
                  *[f"number__{f.name}" for f in number._meta.concrete_fields],
                  "conversation__organization", "conversation__number", "conversation__contact",
                  "conversation__assignee", "conversation__team", "conversation__contact__wa_id",
                  "conversation__contact__user_id", "author__username", "author__first_name",
                  "author__last_name", "author__display_name")
            .order_by("created_at")
        )

    claimed = claim_two()
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(send_started_at=now, send_attempts=1)
    built = orm_two()
    assert [_claimed_state(m) for m in claimed] == [_claimed_state(m) for m in built]
    assert claimed[1].author.username == built[1].author.username
    # Deferred columns load on access, as for any partly loaded instance; a save works.
    assert claimed[0].conversation.contact.profile_name == first.conversation.contact.profile_name
    claimed[0].text = "changed"
    claimed[0].save(update_fields=["text"])
    assert Message.objects.get(pk=first.pk).text == "changed"
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(send_started_at=None, send_attempts=0)

    # A model something listens to for its instances goes through Model.__init__.
    seen = []
    receiver = lambda sender, instance, **kw: seen.append(sender)  # noqa: E731
    post_init.connect(receiver, sender=Message)
    try:
        claim_two()
    finally:
        post_init.disconnect(receiver, sender=Message)
    assert seen == [Message, Message]


def test_a_batchs_calls_leave_from_the_one_sender_loop(queued, number, monkeypatch):
    # No thread per call: every call of the batch is made by the process's sender loop.
    import threading

    from apps.providers.meta import transport

    threads = set()
    request = transport.Pool.request

    async def recording(self, *args, **kwargs):
        threads.add(threading.current_thread().name)
        return await request(self, *args, **kwargs)

    monkeypatch.setattr(transport.Pool, "request", recording)
    messages = pending(number, 12)
    before = set(threading.enumerate())
    tasks.send_pending.run(number.pk)
    assert threads == {"graph-sender"}
    # No thread of ours but the loop's, if it was not running yet. The simulator answering
    # in this process starts its own (one per connection, its database thread), and a loop
    # that opens connections resolves host names in asyncio's bounded pool.
    started = sorted(t.name for t in set(threading.enumerate()) - before
                     if not t.name.startswith("asyncio_") and not t.name.endswith("(process_request_thread)")
                     and t.name != "simulator-db")
    assert started in ([], ["graph-sender"])
    assert set(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True)) == {
        Status.SENT}


def test_calls_the_loop_could_not_start_at_their_slots_take_new_slots(queued, number, monkeypatch):
    # A call the loop starts later than LATE_SLOT after its slot is not made: the
    # batch reserves new slots for those and sends them in its next round.
    from apps.providers.meta import transport

    launch = transport.Sender._launch
    late = [3]

    def sometimes_late(self, batch, index, when, call, late_after):
        if late[0] > 0:
            late[0] -= 1
            return launch(self, batch, index, when - 10 * late_after, call, late_after)
        return launch(self, batch, index, when, call, late_after)

    reservations = []
    reserve = ratelimit.send_reserve_batch

    def counting(number, wa_ids, **kwargs):
        reservations.append(len(wa_ids))
        return reserve(number, wa_ids, **kwargs)

    monkeypatch.setattr(transport.Sender, "_launch", sometimes_late)
    monkeypatch.setattr(ratelimit, "send_reserve_batch", counting)
    messages = pending(number, 6)
    tasks.send_pending.run(number.pk)
    assert reservations == [6, 3]
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert [(m.status, m.send_attempts) for m in rows] == [(Status.SENT, 1)] * 6
    assert SimulatedMessage.objects.filter(wamid__in=[m.wamid for m in rows]).count() == 6


def _late_first(monkeypatch, count):
    """The sender loop starts the first `count` calls it launches too late."""
    from apps.providers.meta import transport

    launch = transport.Sender._launch
    late = [count]

    def sometimes_late(self, batch, index, when, call, late_after):
        if late[0] > 0:
            late[0] -= 1
            return launch(self, batch, index, when - 10 * late_after, call, late_after)
        return launch(self, batch, index, when, call, late_after)

    monkeypatch.setattr(transport.Sender, "_launch", sometimes_late)


def test_calls_found_late_then_sent_in_the_next_round_are_sent_not_given_back(queued, number, monkeypatch):
    # Only the calls still late in the last round go back to the number; the ones
    # sent in a later round are sent, and no batch is queued for them.
    _late_first(monkeypatch, 3)
    messages = pending(number, 6)
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, number_id=number.pk, limit=6)
    outcome = batch.batch_send(claimed, claimed_at, full=False)
    assert outcome == {m.pk: "sent" for m in messages}
    assert queued == []
    assert [m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])] == [Status.SENT] * 6


def test_a_call_found_late_counts_once_against_its_customer(queued, number, monkeypatch):
    # Its first slot was never used: the pair's slot goes back, so a message found
    # late several times does not wait out its customer's limit (one per 6 s past
    # a burst) for calls that never went.
    _late_first(monkeypatch, 1)
    message = pending(number, 1)[0]
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, ids=[message.pk])
    assert batch.batch_send(claimed, claimed_at, full=False) == {message.pk: "sent"}
    pair = ratelimit.pair_limit(number, message.conversation.contact.key)
    ahead = ratelimit.taken_ahead(pair.key)
    assert 0 < ahead <= pair.interval  # one slot taken (two would be a whole interval more)


def test_a_batch_waits_for_its_loop_to_start_calls_on_time_before_it_reserves(queued, number, monkeypatch):
    # A loop that launched a call late is behind: slots reserved now would be found
    # late too, so the batch waits until the loop has been on time for a moment.
    import time

    from apps.providers.meta.client import sender

    loop = sender()
    order = []
    reserve = ratelimit.send_reserve_batch

    def recording(*args, **kwargs):
        order.append(("reserve", time.monotonic() >= loop.behind_until))
        return reserve(*args, **kwargs)

    monkeypatch.setattr(ratelimit, "send_reserve_batch", recording)
    message = pending(number, 1)[0]
    loop.behind_until = time.monotonic() + 0.3
    assert not loop.on_time(0.0)
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, ids=[message.pk])
    assert batch.batch_send(claimed, claimed_at, full=False) == {message.pk: "sent"}
    assert order == [("reserve", True)]
    assert loop.on_time(0.0)


@pytest.mark.parametrize("lost", ["ReadTimeout", "AnswerLost", "no result in time"])
def test_a_call_meta_may_have_had_is_marked_interrupted_not_retried(queued, number, monkeypatch, lost):
    import asyncio

    from apps.providers.meta import transport

    request = transport.Pool.request
    first = pending(number, 3)[0]

    async def losing(self, method, url, headers, body, **kwargs):
        if f'"Batch {number.pk} 0"'.encode() not in body:
            return await request(self, method, url, headers, body, **kwargs)
        if lost == "no result in time":
            await asyncio.sleep(3)  # past the claim's time (shortened below)
        raise getattr(transport, lost if lost != "no result in time" else "ReadTimeout")("lost")

    monkeypatch.setattr(transport.Pool, "request", losing)
    if lost == "no result in time":
        monkeypatch.setattr(claim, "claim_expiry", lambda: 1.0)
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, number_id=number.pk, limit=3)
    outcome = batch.batch_send(claimed, claimed_at, full=False)
    assert outcome[first.pk] == "interrupted"
    first.refresh_from_db()
    assert (first.status, first.error_title, first.wamid) == (Status.FAILED, INTERRUPTED_TITLE, None)
    assert [name for name, args, _ in queued if args == (first.pk,)] == []  # not retried
    assert sorted(outcome.values()) == ["interrupted", "sent", "sent"]


def test_a_broker_that_fails_between_the_calls_and_their_answers_loses_no_wamid(queued, number, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(kick, "dispatch", broker_down)
    ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))
    messages = pending(number, 3)
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, number_id=number.pk, limit=2)
    outcome = batch.batch_send(claimed, claimed_at, full=True)  # full: it queues the next batch, which fails
    assert sorted(outcome.values()) == ["sent", "sent"]
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    assert [(rows[m.pk].status, bool(rows[m.pk].wamid)) for m in claimed] == [(Status.SENT, True)] * 2


def test_a_stuck_loop_gives_back_what_it_never_made_and_the_rest_is_interrupted(queued, number, monkeypatch):
    from apps.providers.meta import client as client_module
    from apps.providers.meta import transport

    class Stuck:
        """A sender loop that found the first call late and then hung."""

        def __init__(self):
            self.scheduled = 0

        def on_time(self, timeout):
            return True

        def schedule(self, calls, late_after):
            self.scheduled += 1
            batch = transport.Batch(len(calls))
            batch._set(0, transport.LATE)
            batch._decide()
            return batch

    stuck = Stuck()
    monkeypatch.setattr(client_module, "sender", lambda: stuck)
    monkeypatch.setattr(claim, "claim_expiry", lambda: 0.5)
    messages = pending(number, 3)
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, number_id=number.pk, limit=3)
    outcome = batch.batch_send(claimed, claimed_at, full=False)
    assert stuck.scheduled == 1  # not scheduled again while the loop is stuck
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    first, *others = messages
    # Never made: given back, as it was (no attempt counted), and its number kicked later.
    assert (outcome[first.pk], rows[first.pk].status, rows[first.pk].send_started_at,
            rows[first.pk].send_attempts) == ("throttled", Status.PENDING, None, 0)
    assert [name for name, _args, _countdown in queued] == ["messaging.send_pending"]
    # No answer by the claim's deadline: maybe made, so interrupted, not retried.
    assert [(outcome[m.pk], rows[m.pk].status, rows[m.pk].error_title) for m in others] == [
        ("interrupted", Status.FAILED, INTERRUPTED_TITLE)] * 2


def test_a_batch_task_delivered_again_gives_each_claim_in_flight_its_own_task(queued, number, monkeypatch):
    # Its worker may have died holding them: each claimed message's own task settles
    # it once the claim has expired (test_worker_processes kills a real worker).
    claimed, waiting = pending(number, 2)
    Message.objects.filter(pk=claimed.pk).update(send_started_at=timezone.now(), send_attempts=1)
    tasks.send_pending.push_request(delivery_info={"redelivered": True})
    try:
        tasks.send_pending.run(number.pk)
    finally:
        tasks.send_pending.pop_request()
    assert ("messaging.send_message", (claimed.pk,), None) in queued
    assert Message.objects.get(pk=waiting.pk).status == Status.SENT
    queued.clear()
    tasks.send_pending.push_request(delivery_info={"redelivered": False})
    try:
        tasks.send_pending.run(number.pk)  # a first delivery looks at no claim
    finally:
        tasks.send_pending.pop_request()
    assert not [call for call in queued if call[0] == "messaging.send_message"]


def test_a_batch_that_cannot_reserve_its_slots_gives_its_claims_back_at_once(queued, number, monkeypatch):
    """Redis goes away between the batch's first record of its calls and their slots:
    no call is made, and the claims (their records of a call with them) are given back
    now, for the number's next batch, instead of waiting for the claim's expiry and
    then showing "Send interrupted" on messages that never left."""
    import redis

    messages = pending(number, 3)

    def gone(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(ratelimit, "send_reserve_batch", gone)
    tasks.send_pending.run(number.pk)
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert sorted(rows.values_list("status", "send_started_at", "call_started_at", "send_attempts")) == [
        (Status.PENDING, None, None, 0)] * 3
    assert SimulatedRequest.objects.count() == 0
    assert ("messaging.send_pending", (number.pk,)) in [(task, args) for task, args, _ in queued]
