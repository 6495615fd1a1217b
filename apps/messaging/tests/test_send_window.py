"""Never more calls than a number's limit in any sliding second: the window rule,
checked on the moments the requests are written, over batches running at once in
several threads, warm and after a restart of the sending process's state, while
some threads get Redis's answer late (a busy machine: the CPU, the GIL). Against
the simulator, PostgreSQL and Redis."""

import asyncio
import threading
import time

import pytest
from django.db import connection

from apps.messaging import tasks
from apps.messaging.models import Message, Status
from apps.messaging.sending import kick, ratelimit
from apps.messaging.tests.test_send_crash import number, pending, queued  # noqa: F401 (fixtures)
from apps.providers.meta import transport, wire
from apps.simulator.models import SimulatedMessage
from apps.simulator.server import Server
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# A request is written within LATE_SLOT after its slot (or not at all, and takes a
# new slot); the number's headroom (ratelimit.NUMBER_HEADROOM) leaves 10 ms more for
# its way to the receiver: `rate` requests at most in any 1.01 s of their writing.
WAY = 0.01
LATE_ANSWER = 0.06  # how late some threads get Redis's answer


@pytest.fixture
def served(queued, settings):  # noqa: F811
    """The simulator as the fault suite serves it (apps/simulator/server.py: one loop,
    a few threads), not the test's live server: many calls in flight at once."""
    from config.wsgi import application

    server = Server(application, "127.0.0.1", 0, threads=4)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    settings.GRAPH_API_BASE = f"http://127.0.0.1:{server.port}/simulator/graph"
    transport.reset()
    yield server
    transport.reset()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    server.close()


def busiest(times: list[float], window: float) -> int:
    worst, first = 0, 0
    times = sorted(times)
    for last, at in enumerate(times):
        while times[first] <= at - window:
            first += 1
        worst = max(worst, last - first + 1)
    return worst


def test_a_number_never_has_more_calls_than_its_limit_in_a_sliding_second_warm_or_cold(
        served, queued, number, monkeypatch):  # noqa: F811
    rate = number.rate_limit_per_second
    assert rate == 80
    written, lock = [], threading.Lock()
    exchange, reserve = wire._Connection.exchange, ratelimit.send_reserve_batch

    async def writing(self, method, data, read_timeout):
        if b"/messages " in data[:200]:
            written.append(time.monotonic())  # the loop's thread: appends are atomic
        return await exchange(self, method, data, read_timeout)

    def reserving(*args, **kw):
        slots = reserve(*args, **kw)
        if threading.current_thread().name.endswith("late"):
            time.sleep(LATE_ANSWER)  # this thread gets the answer late
        return slots

    monkeypatch.setattr(wire._Connection, "exchange", writing)
    monkeypatch.setattr(ratelimit, "send_reserve_batch", reserving)
    messages = pending(number, 2 * 96)
    ids = [m.pk for m in messages]

    def burst(share: int) -> None:
        """Batch tasks in 6 threads (half of them answered late) until `share` are
        sent; the tasks they queue (a message's own: a retry) run as a worker would."""
        deadline = time.monotonic() + 120  # a stall shows in the assertions below, not as a hang

        def worker():
            try:
                while (Message.objects.filter(pk__in=ids).exclude(status=Status.PENDING).count() < share
                       and time.monotonic() < deadline):
                    with lock:
                        own = [args[0] for task, args in queued if task == "messaging.send_message"]
                        queued.clear()
                    for message_id in own:
                        tasks.send_message.run(message_id)
                    if not own and not tasks.send_pending.run(number.pk):
                        time.sleep(0.02)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, name=f"send-{i}-{'late' if i % 2 else 'soon'}") for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

    burst(96)  # warm
    # The worker restarts: a new process (no sender loop, no numbers known), Redis's
    # buckets as they were.
    transport.reset()
    kick.number_keys.clear()
    kick.number_rates.clear()
    burst(2 * 96)
    assert busiest(written, 1.0 + WAY) <= rate
    statuses = list(Message.objects.filter(pk__in=ids).values_list("status", "error_title"))
    assert statuses == [(Status.SENT, "")] * (2 * 96)
    assert SimulatedMessage.objects.count() == len(written) == 2 * 96
