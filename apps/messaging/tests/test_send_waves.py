"""A batch records its calls as started in small waves, each just before its slots:
a worker killed in a burst leaves only the calls of about one wave recorded and not
made (shown interrupted); its other claims are given back and sent, once. Against
the simulator, PostgreSQL and Redis."""

import time

import pytest

from apps.messaging import tasks
from apps.messaging.models import Message, Status
from apps.messaging.sending import batch, claim, kick, ratelimit
from apps.messaging.tests.test_send_crash import (  # noqa: F401 (fixtures)
    WorkerDied,
    accepted,
    claims_age,
    number,
    pending,
    queued,
    run_queued,
)
from apps.providers.meta import transport
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 0.7  # seconds of the number's slots already taken by earlier batches


def backlog(of, seconds=BACKLOG):
    """The slots of number `of` taken for the next `seconds` (earlier batches of a burst)."""
    seconds_now, micros = ratelimit.client().time()
    now_us = seconds_now * 1_000_000 + micros
    ratelimit.client().set(ratelimit.PREFIX + ratelimit.number_key(of), str(now_us + int(seconds * 1e6)),
                           px=int(seconds * 1000) + 2000)


def wait_accepted(count):
    deadline = time.monotonic() + 30
    while SimulatedMessage.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_batch_behind_a_backlog_records_each_call_just_before_its_slot(queued, number, monkeypatch):  # noqa: F811
    # 80/s, its slots taken for the next 0.7 s: the batch's slots are that far ahead.
    # Nothing is recorded at the reservation; each wave just before its slots.
    monkeypatch.setattr(batch, "LATE_SLOT", 5.0)  # a busy machine's loop: one round only
    steps = []
    record, schedule = claim.calls_start, transport.Sender.schedule
    reserve = ratelimit.send_reserve_batch
    monkeypatch.setattr(claim, "calls_start",
                        lambda ids, at: steps.append(("record", time.monotonic(), list(ids))) or record(ids, at))
    monkeypatch.setattr(ratelimit, "send_reserve_batch",
                        lambda *a, **kw: steps.append(("reserve", time.monotonic(), a[1])) or reserve(*a, **kw))
    monkeypatch.setattr(transport.Sender, "schedule", lambda self, calls, **kw: steps.append(
        ("schedule", time.monotonic(), [at for at, _call in calls])) or schedule(self, calls, **kw))
    messages = pending(number, 16)
    backlog(number)
    assert tasks.send_pending.run(number.pk) == 16
    names = [name for name, _at, _ in steps]
    assert names[0] == "reserve"  # no call recorded before the slots are known
    assert names[1:] == ["record", "schedule"] * (len(names[1:]) // 2)
    waves = [(steps[i][1], steps[i][2], steps[i + 1][2]) for i in range(1, len(steps), 2)]
    per_wave = int(number.rate_limit_per_second * batch.WAVE_SECONDS) + 1
    for recorded_at, ids, slots in waves:
        assert len(ids) == len(slots) <= per_wave
        # Recorded no earlier than MARK_LEAD before the wave's first slot.
        assert recorded_at >= min(slots) - batch.MARK_LEAD - 0.002
    assert sorted(pk for _at, ids, _slots in waves for pk in ids) == sorted(m.pk for m in messages)
    assert Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENT).count() == 16


def test_a_worker_dying_behind_a_backlog_leaves_one_wave_recorded_and_the_rest_is_sent_once(
        queued, number, monkeypatch):  # noqa: F811
    monkeypatch.setattr(batch, "LATE_SLOT", 5.0)
    messages = pending(number, 16)
    real, recorded = claim.calls_start, []

    def dies_at_the_second_wave(ids, claimed_at):
        if recorded:
            raise WorkerDied
        recorded.extend(ids)
        return real(ids, claimed_at)

    monkeypatch.setattr(claim, "calls_start", dies_at_the_second_wave)
    backlog(number)
    with pytest.raises(WorkerDied):
        tasks.send_pending.run(number.pk)
    monkeypatch.setattr(claim, "calls_start", real)
    assert 1 <= len(recorded) <= int(number.rate_limit_per_second * batch.WAVE_SECONDS) + 1
    started = Message.objects.filter(pk__in=[m.pk for m in messages], call_started_at__isnull=False)
    assert sorted(started.values_list("pk", flat=True)) == sorted(recorded)
    wait_accepted(len(recorded))  # the first wave went out
    # The claims whose call never started are given back and sent, once.
    claims_age(messages, claim.UNSTARTED_EXPIRY + 1)
    assert tasks.sweep_pending.run() == 16 - len(recorded)
    ratelimit.reset()
    outcomes = run_queued(queued)
    assert set(outcomes.values()) == {"sent"} and len(outcomes) == 16 - len(recorded)
    assert [len(accepted(m)) for m in messages] == [1] * 16


def test_a_call_found_late_is_not_left_recorded_so_a_death_gives_it_back(queued, number, monkeypatch):  # noqa: F811
    # Every call found late by the loop (never written); the worker dies recording
    # the next round: none is shown interrupted, all are given back and sent.
    monkeypatch.setattr(batch, "LATE_SLOT", -1.0)
    messages = pending(number, 4)
    real, rounds = claim.calls_start, []

    def dies_at_the_second_round(ids, claimed_at):
        rounds.append(list(ids))
        if len(rounds) > 1:
            raise WorkerDied
        return real(ids, claimed_at)

    monkeypatch.setattr(claim, "calls_start", dies_at_the_second_round)
    with pytest.raises(WorkerDied):
        tasks.send_pending.run(number.pk)
    monkeypatch.setattr(claim, "calls_start", real)
    monkeypatch.setattr(batch, "LATE_SLOT", 5.0)
    assert rounds[0] and SimulatedMessage.objects.count() == 0
    assert not Message.objects.filter(pk__in=[m.pk for m in messages], call_started_at__isnull=False).exists()
    claims_age(messages, claim.UNSTARTED_EXPIRY + 1)
    assert tasks.sweep_pending.run() == 4
    ratelimit.reset()
    assert run_queued(queued) == {m.pk: "sent" for m in messages}
    assert [len(accepted(m)) for m in messages] == [1] * 4
    kick.number_keys.pop(number.pk, None)
