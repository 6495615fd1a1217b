"""The token buckets: in-process, and shared by two workers through Redis."""

import os
import threading
import uuid

import pytest
from django.conf import settings as django_settings

from apps.messaging import ratelimit


def test_in_process_bucket_grants_the_burst_then_asks_to_wait(settings):
    settings.REDIS_URL = None
    key = f"test:{uuid.uuid4()}"
    assert [ratelimit.acquire(key, rate=1, burst=3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = ratelimit.acquire(key, rate=1, burst=3)
    assert 0 < wait <= 1.0


def test_pair_bucket_is_charged_per_customer(settings):
    settings.REDIS_URL = None
    settings.SEND_PAIR_BURST = 2
    settings.SEND_PAIR_RATE_PER_SECOND = 1 / 6

    class Number:
        phone_number_id = f"n{uuid.uuid4().hex}"
        rate_limit_per_second = 80

    assert [ratelimit.send_wait(Number, "551100") for _ in range(2)] == [0.0, 0.0]
    assert ratelimit.send_wait(Number, "551100") > 5
    assert ratelimit.send_wait(Number, "551199") == 0.0


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
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
