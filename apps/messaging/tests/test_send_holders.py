"""Who holds a claim, on the real Redis (apps/messaging/sending/holders.py): a claim
whose recorded holder stopped beating is its dead process's; one of a holder that
beats, of the asking process itself, or with no holder recorded is not."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.messaging.sending import holders, ratelimit


@pytest.fixture
def times():
    base = datetime.now(UTC).replace(microsecond=123456) - timedelta(days=365)  # keys no real claim has
    at = [base + timedelta(seconds=i) for i in range(4)]
    client = ratelimit.client()
    yield at
    client.delete(*[holders.claim_key(t) for t in at], holders.HOLDER_PREFIX + "dead-host:1:x",
                  holders.HOLDER_PREFIX + "live-host:2:y")


def test_only_a_claim_whose_recorded_holder_stopped_beating_is_gone(times):
    client = ratelimit.client()
    dead, alive, own, _unrecorded = times
    client.set(holders.claim_key(dead), "dead-host:1:x")
    client.set(holders.claim_key(alive), "live-host:2:y")
    client.set(holders.HOLDER_PREFIX + "live-host:2:y", 1, px=60_000)
    holders.claims_held(own, 60)  # this process: beating, and never gone to itself
    assert client.get(holders.claim_key(own)).decode() == holders.holder()
    assert holders.holders_gone(times) == {dead}


def test_the_asking_process_never_takes_itself_for_dead(times):
    """Its beat may have been lost with a Redis restart: it knows it is alive."""
    client = ratelimit.client()
    holders.claims_held(times[0], 60)
    client.delete(holders.HOLDER_PREFIX + holders.holder())
    assert holders.holders_gone(times[:1]) == set()
    client.set(holders.HOLDER_PREFIX + holders.holder(), 1, px=60_000)


@pytest.mark.django_db
def test_a_dead_holders_recorded_calls_never_written_are_given_back_and_can_no_longer_be_written():
    """A holder killed between recording a wave of calls (one UPDATE) and writing
    them: the calls its sender loop marked right before writing are "interrupted"
    (nobody can know), the others were never written: given back, sent as any other,
    and a late mark of theirs (a holder wrongly taken for dead) is refused. On the
    real PostgreSQL and Redis."""
    import asyncio

    from django.utils import timezone

    from apps.conversations.tests.factories import ConversationFactory
    from apps.messaging.models import Message, Status
    from apps.messaging.sending import claim, outcome, run
    from apps.messaging.tests.factories import OutboundMessageFactory

    conversation = ConversationFactory()
    messages = [OutboundMessageFactory(conversation=conversation, text=f"Recorded {i}") for i in range(3)]
    claimed_at = timezone.now() - timedelta(seconds=5)
    ids = [m.pk for m in claim.messages_claim(claimed_at=claimed_at, ids=[m.pk for m in messages])]
    assert claim.calls_start(ids, claimed_at) == set(ids)
    ttl = claim.claim_expiry() + claim.UNSTARTED_EXPIRY
    assert asyncio.run(holders.calls_mark(claimed_at, [ids[0]], ttl)) == [True]  # written, then the holder died
    client = ratelimit.client()
    client.set(holders.claim_key(claimed_at), "dead-host:1:x", px=60_000)  # its holder: no beat
    try:
        run.claims_of_the_dead_settle(Message.objects.filter(pk__in=ids, status=Status.PENDING), timezone.now())
        rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
        assert (rows[ids[0]].status, rows[ids[0]].error_title) == (Status.FAILED, outcome.INTERRUPTED_TITLE)
        for pk in ids[1:]:  # never written: waiting to be sent again, the attempt uncounted
            assert (rows[pk].status, rows[pk].send_started_at, rows[pk].call_started_at,
                    rows[pk].send_attempts) == (Status.PENDING, None, None, 0)
        assert asyncio.run(holders.calls_mark(claimed_at, [ids[1]], ttl)) == [False]
    finally:
        client.delete(holders.claim_key(claimed_at), holders.RUN_PREFIX + holders._stamp(claimed_at),
                      *[holders.call_key(claimed_at, pk) for pk in ids])


@pytest.mark.django_db
def test_marks_held_by_another_redis_server_than_the_claims_are_not_trusted():
    """After a Redis restart (or a failover) some marks may be lost: every recorded
    call of a dead holder is then "interrupted", none given back."""
    import asyncio

    from django.utils import timezone

    from apps.conversations.tests.factories import ConversationFactory
    from apps.messaging.models import Message, Status
    from apps.messaging.sending import claim, run
    from apps.messaging.tests.factories import OutboundMessageFactory

    conversation = ConversationFactory()
    messages = [OutboundMessageFactory(conversation=conversation, text=f"Recorded {i}") for i in range(2)]
    claimed_at = timezone.now() - timedelta(seconds=5)
    ids = [m.pk for m in claim.messages_claim(claimed_at=claimed_at, ids=[m.pk for m in messages])]
    claim.calls_start(ids, claimed_at)
    ttl = claim.claim_expiry() + claim.UNSTARTED_EXPIRY
    asyncio.run(holders.calls_mark(claimed_at, [ids[0]], ttl))
    client = ratelimit.client()
    client.set(holders.claim_key(claimed_at), "dead-host:1:x", px=60_000)
    client.set(holders.RUN_PREFIX + holders._stamp(claimed_at), "0" * 40, px=60_000)  # another server's run
    try:
        assert holders.calls_settle(claimed_at, ids, ttl) is None
        run.claims_of_the_dead_settle(Message.objects.filter(pk__in=ids, status=Status.PENDING), timezone.now())
        assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.FAILED}
    finally:
        client.delete(holders.claim_key(claimed_at), holders.RUN_PREFIX + holders._stamp(claimed_at),
                      *[holders.call_key(claimed_at, pk) for pk in ids])
