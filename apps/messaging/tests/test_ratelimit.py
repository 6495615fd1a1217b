"""The token buckets in Redis, shared by the workers."""

import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings

from apps.messaging.sending import ratelimit


def test_a_bucket_grants_the_burst_then_asks_to_wait():
    key = f"test:{uuid.uuid4()}"
    assert [ratelimit.acquire(key, rate=1, burst=3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = ratelimit.acquire(key, rate=1, burst=3)
    assert 0 < wait <= 1.0
    ratelimit.reset(key)


def test_pair_bucket_is_charged_per_customer(settings):
    settings.SEND_PAIR_BURST = 2
    settings.SEND_PAIR_RATE_PER_SECOND = 1 / 6
    settings.SEND_NUMBER_BURST = 80

    class Number:
        phone_number_id = f"n{uuid.uuid4().hex}"
        rate_limit_per_second = 80

    assert [ratelimit.send_wait(Number, "551100") for _ in range(2)] == [0.0, 0.0]
    assert ratelimit.send_wait(Number, "551100") > 5
    assert ratelimit.send_wait(Number, "551199") == 0.0
    for key in [ratelimit.number_key(Number)] + [ratelimit.pair_key(Number, c) for c in ("551100", "551199")]:
        ratelimit.reset(key)


def test_the_redis_bucket_holds_across_two_workers():
    assert django_settings.REDIS_URL
    key = f"test:{uuid.uuid4()}"
    granted = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def worker():
        start.wait()
        mine = sum(1 for _ in range(50) if ratelimit.acquire(key, rate=0.001, burst=20) == 0.0)
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 100 attempts between two workers; the bucket holds 20 and refills ~nothing.
    assert sum(granted) == 20
    ratelimit.reset(key)


def _number(rate):
    class Number:
        phone_number_id = f"n{uuid.uuid4().hex}"
        rate_limit_per_second = rate

    return Number


def test_a_refused_pair_takes_no_slot_of_the_number(settings):
    settings.SEND_NUMBER_BURST = 3
    settings.SEND_PAIR_BURST = 1
    settings.SEND_PAIR_RATE_PER_SECOND = 1 / 6
    number = _number(0.001)  # the number's bucket never refills during the test
    assert ratelimit.send_wait(number, "551100") == 0.0
    assert ratelimit.send_wait(number, "551100") > 5  # the pair refuses ...
    # ... and the number still has its two other slots.
    assert [ratelimit.send_wait(number, c) for c in ("551101", "551102")] == [0.0, 0.0]
    assert ratelimit.send_wait(number, "551103") > 5
    for key in [ratelimit.number_key(number)] + [ratelimit.pair_key(number, f"55110{i}") for i in range(4)]:
        ratelimit.reset(key)


def test_reserved_slots_are_spaced_one_interval_apart(settings):
    settings.SEND_NUMBER_BURST = 1
    number = _number(10)
    reserved = [ratelimit.send_reserve(number, f"5511{i:04d}", max_wait=0.45) for i in range(6)]
    assert [granted for granted, _ in reserved] == [True] * 5 + [False]
    delays = [delay for _, delay in reserved[:5]]
    # Each slot is one interval after the previous one (minus the moments between the
    # calls): 1/10 s, widened by the headroom that keeps late sends inside the limit.
    interval = 0.1 / ratelimit.NUMBER_HEADROOM
    assert 0.1 < interval < 0.11
    assert all(interval - 0.01 < later - earlier <= interval + 1e-6 for earlier, later in zip(delays, delays[1:]))
    # The refused one is told when a slot within its wait will be free.
    assert 0 < reserved[5][1] <= interval
    ratelimit.reset(ratelimit.number_key(number))


def test_a_batch_reserves_as_one_message_after_another(settings):
    settings.SEND_NUMBER_BURST = 1
    settings.SEND_PAIR_BURST = 1
    settings.SEND_PAIR_RATE_PER_SECOND = 1 / 6
    number = _number(10)
    customers = ["5511000", "5511001", "5511000", "5511002", "5511003", "5511004", "5511005"]
    slots = ratelimit.send_reserve_batch(number, customers, max_wait=0.45)
    interval = 0.1 / ratelimit.NUMBER_HEADROOM
    # The third message's customer had a message just before: its pair refuses it
    # (and it takes no slot of the number); the others are spaced one interval apart.
    assert [(granted, by_pair) for granted, _, by_pair in slots] == [
        (True, False), (True, False), (False, True), (True, False), (True, False), (True, False), (False, False)]
    assert slots[2][1] > 5
    delays = [delay for granted, delay, _ in slots if granted]
    assert all(interval - 0.01 < later - earlier <= interval + 1e-6 for earlier, later in zip(delays, delays[1:]))
    assert 0 < slots[6][1] <= interval
    # The same buckets as single reservations: the next one waits behind the batch.
    granted, delay = ratelimit.send_reserve(number, "5511009", max_wait=1.0)
    assert granted and delay > 0.45
    for key in [ratelimit.number_key(number)] + [ratelimit.pair_key(number, c) for c in customers + ["5511009"]]:
        ratelimit.reset(key)


def test_redis_time_is_mapped_to_ours_never_before_it_within_the_fastest_round_trip():
    clock = ratelimit.RedisClock()
    skew = 5.0  # Redis's clock is 5 s ahead of ours
    clock.sample(100.0, 100.05, 100.02 + skew)  # a slow round trip (the thread waited)
    assert (clock.low, clock.high) == pytest.approx((4.97, 5.02))
    clock.sample(200.0, 200.001, 200.0005 + skew)  # a fast one narrows the bounds
    assert clock.low <= skew <= clock.high and clock.high - clock.low <= 0.001 + 1e-9
    # A slot at Redis's time r is placed at our r - low: never before its time.
    now_ours = time.time()
    placed = clock.monotonic(now_ours + skew) - time.monotonic()
    assert 0 <= placed <= 0.002
    # Bounds that cannot both hold (a clock was stepped): start afresh.
    clock.sample(300.0, 300.001, 300.0005 + 2.0)
    assert clock.low <= 2.0 <= clock.high


def test_a_cold_processes_slow_first_reservation_does_not_place_its_slots_late_then_crowd_the_next(monkeypatch):
    """A process's first reservation is slow (its connection opened, its scripts
    loaded, its thread waiting for the CPU): bounds taken from it alone place that
    batch's slots late by the wait, and the next reservation's fast round trip would
    then place its slots on time, closer to the previous than their interval. The
    clock is narrowed with TIME calls first, so one Redis time maps to (almost) the
    same moment after either reservation. Against the real Redis."""
    clock = ratelimit.RedisClock()
    monkeypatch.setattr(ratelimit, "redis_clock", clock)
    number = _number(20)
    ratelimit.client()
    script = ratelimit._batch_script

    def slow(*args, **kw):
        answer = script(*args, **kw)
        time.sleep(0.08)  # the answer reaches this thread late
        return answer

    monkeypatch.setattr(ratelimit, "_batch_script", slow)
    first = ratelimit.send_reserve_batch(number, ["5511000"], max_wait=1.0)
    placed_first = clock.monotonic(first.at)
    monkeypatch.setattr(ratelimit, "_batch_script", script)
    ratelimit.send_reserve_batch(number, ["5511001"], max_wait=1.0)
    assert placed_first - clock.monotonic(first.at) <= 0.01
    for key in [ratelimit.number_key(number), ratelimit.pair_key(number, "5511000"),
                ratelimit.pair_key(number, "5511001")]:
        ratelimit.reset(key)
