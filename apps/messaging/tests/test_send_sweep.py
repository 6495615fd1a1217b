"""The sweep (apps/messaging/sending/run.pending_sweep, every few seconds on the send
workers' queue): a number whose chain of batch tasks died gets its batch task again,
a live chain is left alone, a message of its own task is queued again at most once per
kick.SWEPT_TTL; and a send task that finds the database unavailable is retried soon."""

from datetime import timedelta

import psycopg_pool
import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging import tasks
from apps.messaging.models import Message, Status
from apps.messaging.sending import claim, kick, ratelimit, run
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.models import WhatsAppNumber

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(kick, "dispatch", lambda task, *args, countdown=None, **kw: calls.append((task, args)))
    return calls


def fresh_number():
    number = ConversationFactory().number
    client = ratelimit.client()
    for prefix in (kick.KICK_PREFIX, kick.ALIVE_PREFIX):
        client.delete(prefix + str(number.pk))  # ids repeat across runs
    return number


def waiting(number, count=1, *, age=timedelta(seconds=10), **fields):
    """`count` pending messages of `number` stored `age` ago, whose task is gone."""
    messages = []
    for _ in range(count):
        conversation = ConversationFactory(number=number, organization=number.organization,
                                           contact=ContactFactory(organization=number.organization))
        message = OutboundMessageFactory(conversation=conversation, status=Status.PENDING, **fields)
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - age)
        messages.append(message)
    return messages


def test_a_number_whose_chain_died_gets_its_batch_task_again_and_a_live_one_does_not(queued):
    dead, alive, kicked, new = fresh_number(), fresh_number(), fresh_number(), fresh_number()
    for number in (dead, alive, kicked):
        waiting(number, 2)
    waiting(new, 1, age=timedelta(0))  # just stored: its own kick is on its way
    kick.kick_taken(alive.pk)  # a batch task of it started a moment ago
    ratelimit.client().set(kick.KICK_PREFIX + str(kicked.pk), 1, px=int(kick.KICK_TTL * 1000))  # queued just now
    assert run.pending_sweep() == 1
    assert queued == [("messaging.send_pending", (dead.pk,))]
    # Its kick key is set again: the messages stored meanwhile queue no other task.
    assert ratelimit.client().pttl(kick.KICK_PREFIX + str(dead.pk)) > 0


def test_a_kicked_task_that_never_started_counts_as_dead(queued):
    number = fresh_number()
    waiting(number)
    overdue = kick.KICK_TTL - kick.CHAIN_GRACE - 0.5  # its time passed more than the grace ago
    ratelimit.client().set(kick.KICK_PREFIX + str(number.pk), 1, px=int(overdue * 1000))
    assert kick.chains_stalled([number.pk]) == [number.pk]
    run.pending_sweep()
    assert queued == [("messaging.send_pending", (number.pk,))]


def test_a_message_of_its_own_task_is_queued_again_once_while_its_task_does_not_run(queued):
    number = fresh_number()
    kick.kick_taken(number.pk)  # the number's chain is alive: only the message's own task is missing
    retry = waiting(number, next_attempt_at=timezone.now() - timedelta(seconds=30))[0]
    image = waiting(number, type="image", content={"link": "https://example.com/a.png"})[0]
    later = waiting(number, next_attempt_at=timezone.now() + timedelta(seconds=30))[0]  # not due yet
    stale = waiting(number)[0]
    Message.objects.filter(pk=stale.pk).update(
        send_started_at=timezone.now() - timedelta(seconds=claim.claim_expiry() + 5), send_attempts=1)
    ratelimit.client().delete(*[kick.SWEPT_PREFIX + str(m.pk) for m in (retry, image, later, stale)])
    assert run.pending_sweep() == 3
    assert sorted(args for _task, args in queued) == sorted([(retry.pk,), (image.pk,), (stale.pk,)])
    assert {task for task, _args in queued} == {"messaging.send_message"}
    # The next sweeps, while the tasks have not run: nothing more piles up.
    queued.clear()
    kick.kick_taken(number.pk)
    assert run.pending_sweep() == 0 and queued == []


def test_the_sweep_sends_what_a_dead_chain_left(task_queue, simulator):  # noqa: F811 (the tasks run when queued)
    number = fresh_number()
    messages = waiting(number, 3)
    run.pending_sweep()
    assert Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENT).count() == 3


def test_a_marketing_pause_does_not_keep_the_sweep_from_a_reply_whose_task_was_lost(queued):
    """Under a pause of marketing templates only, a reply left by a dead chain is swept as on
    any number (it is not the pause's to hold); under a pause of the whole number it waits."""
    scoped, whole = fresh_number(), fresh_number()
    paused = {"sending_paused_at": timezone.now(), "sending_pause_code": 131063,
              "sending_resume_at": timezone.now() + timedelta(hours=1)}
    WhatsAppNumber.objects.filter(pk=scoped.pk).update(**paused, sending_pause_scope="marketing")
    WhatsAppNumber.objects.filter(pk=whole.pk).update(**paused, sending_pause_scope="")
    waiting(scoped, 1)
    waiting(whole, 1)
    assert run.pending_sweep() == 1
    assert queued == [("messaging.send_pending", (scoped.pk,))]


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec")])
def test_a_send_task_that_finds_the_database_unavailable_is_retried_soon(task_queue, monkeypatch, error):
    number = fresh_number()

    def unavailable(**kwargs):
        raise error

    monkeypatch.setattr(claim, "messages_claim", unavailable)
    # As a worker runs it: a request of its own, not called directly.
    tasks.send_pending.push_request(id="t1", args=[number.pk], kwargs={}, retries=0, called_directly=False,
                                    delivery_info={})
    try:
        with pytest.raises(Exception) as raised:
            tasks.send_pending.run(number.pk)
    finally:
        tasks.send_pending.pop_request()
    assert type(raised.value).__name__ == "Retry"
    retry = task_queue.delayed[-1]
    assert (retry.task.name, retry.args) == ("messaging.send_pending", (number.pk,))
    assert retry.countdown == 1  # the first retry: after a second (backoff), never at once
    assert tasks.send_message.autoretry_for == tasks.send_pending.autoretry_for
