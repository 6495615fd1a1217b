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
