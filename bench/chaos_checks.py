"""What the fault suite (bench/chaos.py) puts in and counts: signed webhook
deliveries posted as Meta posts them (retried until acknowledged), the status
webhooks of experiment 2, the malformed bodies of experiment 7, and the tallies
read from the bench database."""

from __future__ import annotations

import heapq
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from chaos_procs import SECRET

META_RETRY_SECONDS = 2.0  # Meta retries an unacknowledged delivery (with backoff; short here)


def sign(raw: bytes) -> str:
    from apps.providers.meta.signature import sign_body

    return sign_body(raw, SECRET)


def message_deliveries(numbers, tag: str, count: int, copies: int = 1) -> list[tuple[str, bytes]]:
    """`count` text messages from customers of `numbers` (wamid.<tag>.<i>), each as
    `copies` separate deliveries, the messages shuffled and the copies of one next to
    each other (posted within milliseconds by different connections): (wamid, raw body)."""
    from apps.simulator.webhooks import message_body

    out = []
    order = list(range(count))
    random.shuffle(order)
    for i in order:
        number = numbers[i % len(numbers)]
        wamid = f"wamid.{tag}.{i:06d}"
        body = message_body(number, customer=f"55219{i % 5000:08d}", profile_name=f"Customer {i}", wamid=wamid,
                            type="text", content={"body": f"{tag} message {i}"})
        raw = json.dumps(body, separators=(",", ":")).encode()
        out += [(wamid, raw)] * copies
    return out


class Poster:
    """Posts signed deliveries to the webhook from `threads` connections at `rate`/s;
    a delivery answered anything but 200 (or not answered) is posted again later, as
    Meta does, until `give_up` seconds have passed. Runs in the background."""

    def __init__(self, url: str, items: list[tuple[str, bytes]], rate: float, threads: int = 12,
                 give_up: float = 300, retry: bool = True):
        self.url, self.items, self.rate, self.threads, self.give_up, self.retry = (
            url, items, rate, threads, give_up, retry)
        self.codes: list[list[int | None]] = [[] for _ in items]  # every answer of each delivery
        self.acknowledged_at: float | None = None  # when the last delivery got its 200
        self._thread = threading.Thread(target=self._run, name="poster", daemon=True)

    def start(self) -> Poster:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def _post(self, session: requests.Session, index: int) -> bool:
        raw = self.items[index][1]
        try:
            code = session.post(self.url, data=raw, timeout=30, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code
        except requests.RequestException:
            code = None
        self.codes[index].append(code)
        return code == 200

    def _run(self) -> None:
        began = time.time()
        todo = [(began + n / self.rate, n) for n in range(len(self.items))]
        heapq.heapify(todo)
        lock = threading.Lock()
        local = threading.local()

        def worker():
            local.session = requests.Session()
            while True:
                with lock:
                    if not todo:
                        return
                    when, index = heapq.heappop(todo)
                pause = when - time.time()
                if pause > 0:
                    time.sleep(pause)
                if not self._post(local.session, index) and self.retry and time.time() - began < self.give_up:
                    with lock:
                        heapq.heappush(todo, (time.time() + META_RETRY_SECONDS, index))

        with ThreadPoolExecutor(self.threads) as pool:
            for _ in range(self.threads):
                pool.submit(worker)
        self.acknowledged_at = time.time()

    def refused(self) -> int:
        """Answers other than 200 (each retried)."""
        return sum(1 for codes in self.codes for code in codes if code != 200)

    def unacknowledged(self) -> int:
        return sum(1 for codes in self.codes if 200 not in codes)


# -- tallies -------------------------------------------------------------------------------
def inbound_stored(tag: str) -> dict[str, tuple[int, float]]:
    """{wamid: (rows, when the first was stored)} of inbound messages of experiment `tag`."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT wamid, count(*), extract(epoch FROM min(created_at)) FROM messaging_message"
                    " WHERE direction = 'in' AND wamid LIKE %s GROUP BY wamid", [f"wamid.{tag}.%"])
        return {wamid: (rows, float(when)) for wamid, rows, when in cur.fetchall()}


def inbound_count(tag: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM messaging_message WHERE direction = 'in' AND wamid LIKE %s",
                    [f"wamid.{tag}.%"])
        return cur.fetchone()[0]


def deliveries_waiting(since: float) -> int:
    """Deliveries received since `since` (epoch) and not yet processed (received or failed)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM whatsapp_webhookevent WHERE status IN ('received', 'failed')"
                    " AND received_at >= to_timestamp(%s)", [since])
        return cur.fetchone()[0]


def deliveries_longest_wait(since: float) -> float:
    """The longest a delivery received since `since` (epoch) waited to be processed
    (still waiting: until now), in seconds: the inbound pipeline's own delay, whenever
    the delivery came (the status webhooks of a send burst come as late as its sends)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM max(coalesce(processed_at, now()) - received_at))"
                    " FROM whatsapp_webhookevent WHERE received_at >= to_timestamp(%s)"
                    " AND status NOT IN ('rejected')", [since])
        longest = cur.fetchone()[0]
        return float(longest or 0)


def deliveries_since(since: float) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM whatsapp_webhookevent WHERE received_at >= to_timestamp(%s)"
                    " GROUP BY status", [since])
        return dict(cur.fetchall())


def outbound_done(ids: list[int]) -> int:
    """Messages of `ids` no longer pending (sent with a wamid, or failed)."""
    from apps.messaging.models import Message, Status

    # By the ids themselves: inbound messages stored meanwhile take ids inside their range.
    return Message.objects.filter(pk__in=ids).exclude(status=Status.PENDING).count()


def outbound_settled(ids: list[int], tag: str) -> bool:
    """Every message of `ids` is settled: none pending, and none failed although the
    simulator accepted it (a send interrupted by a fault that Meta's statuses, which
    echo our id, have yet to settle: it is not done until they have)."""
    from apps.messaging.models import Message, Status
    from apps.simulator.models import SimulatedMessage

    if Message.objects.filter(pk__in=ids, status=Status.PENDING).exists():
        return False
    failed = set(Message.objects.filter(pk__in=ids, status=Status.FAILED).values_list("text", flat=True))
    return not failed or not SimulatedMessage.objects.filter(
        direction="out", payload__text__body__in=sorted(failed)).exists()


def outbound_tally(ids: list[int], tag: str) -> dict:
    """in, sent (stored with the wamid the simulator accepted), duplicated (accepted more
    than once), stuck (still pending), lost (settled without its accepted copy)."""
    from collections import Counter

    from apps.messaging.models import Message, Status
    from apps.simulator.models import SimulatedMessage

    rows = list(Message.objects.filter(pk__in=ids).values_list("text", "status", "wamid"))
    accepted = list(SimulatedMessage.objects.filter(direction="out", payload__text__body__startswith=f"bench {tag} ")
                    .values_list("payload__text__body", "wamid"))
    per_text = Counter(text for text, _ in accepted)
    wamid_of = dict(accepted)
    sent = sum(1 for text, _, wamid in rows if wamid and wamid_of.get(text) == wamid)
    stuck = sum(1 for _, status, _ in rows if status == Status.PENDING)
    return {"in": len(ids), "stored": sum(1 for *_, wamid in rows if wamid), "sent": sent,
            "duplicated": sum(1 for n in per_text.values() if n > 1), "stuck": stuck,
            "lost": len(ids) - sent - stuck, "statuses": dict(Counter(status for _, status, _ in rows)),
            "failed_accepted": sum(1 for text, status, _ in rows if status == Status.FAILED and text in per_text)}


def busiest_second(since_request: int, numbers) -> tuple[int, int]:
    """The most send calls one number made to the simulator in any sliding second since
    request `since_request`, and that number's limit."""
    from send_throughput import request_seconds

    worst = (0, 0)
    for number in numbers:
        times = request_seconds(since_request, number)
        first = 0
        for last, at in enumerate(times):
            while times[first] <= at - 1.0:
                first += 1
            worst = max(worst, (last - first + 1, number.rate_limit_per_second))
    return worst


def busiest_second_written(logdir: str, since: float, numbers) -> int:
    """The most send requests the workers wrote for one number in any sliding second
    since `since` (epoch), from the writes' trace (bench/trace/sitecustomize.py)."""
    import glob

    phone_ids = {n.phone_number_id for n in numbers}
    times: dict[str, list[float]] = {p: [] for p in phone_ids}
    for path in glob.glob(os.path.join(logdir, "writes-*.log")):
        with open(path) as trace:
            for line in trace:
                at, _, phone = line.strip().partition(" ")
                if phone in times and float(at) >= since:
                    times[phone].append(float(at))
    worst = 0
    for found in times.values():
        found.sort()
        first = 0
        for last, at in enumerate(found):
            while found[first] <= at - 1.0:
                first += 1
            worst = max(worst, last - first + 1)
    return worst


# -- experiment 2: statuses around the storing of the wamid ----------------------------------
class StatusPoster:
    """Watches the simulator's accepted messages of `tag` and, for each, posts a
    random prefix of sent -> delivered -> read as Meta's status webhooks at random
    moments from the acceptance on: the simulator holds its answer LATENCY_MS, so the
    first ones arrive before the product has the wamid, others while it stores it,
    the rest after. `expected` is the last status posted per wamid."""

    ORDER = ("sent", "delivered", "read")

    def __init__(self, url: str, number_of: dict[str, object], tag: str, spread: float = 1.0, threads: int = 8):
        self.url, self.number_of, self.tag, self.spread = url, number_of, tag, spread
        self.expected: dict[str, str] = {}
        self.last_post = 0.0
        self.failures = 0
        self._todo: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, daemon=True)] + [
            threading.Thread(target=self._post, daemon=True) for _ in range(threads)]

    def start(self) -> StatusPoster:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Once every status is posted (call after all messages are settled)."""
        while True:
            with self._lock:
                if not self._todo:
                    break
            time.sleep(0.1)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _watch(self) -> None:
        from django.db import connection

        from apps.simulator.models import SimulatedMessage
        from apps.simulator.webhooks import status_body

        seen = 0
        try:
            while not self._stop.is_set():
                found = list(SimulatedMessage.objects.filter(
                    pk__gt=seen, direction="out", payload__text__body__startswith=f"bench {self.tag} ")
                    .values_list("pk", "phone_number_id", "customer", "wamid"))
                now = time.time()
                for pk, phone_number_id, customer, wamid in found:
                    seen = max(seen, pk)
                    statuses = self.ORDER[:random.randint(1, 3)]
                    self.expected[wamid] = statuses[-1]
                    moments = sorted(random.uniform(0, self.spread) for _ in statuses)
                    number = self.number_of[phone_number_id]
                    with self._lock:
                        for status, moment in zip(statuses, moments):
                            body = status_body(number, wamid=wamid, status=status, recipient=customer)
                            heapq.heappush(self._todo, (now + moment, wamid, json.dumps(body).encode()))
                time.sleep(0.05)
        finally:
            connection.close()

    def _post(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            with self._lock:
                item = heapq.heappop(self._todo) if self._todo and self._todo[0][0] <= time.time() else None
            if item is None:
                time.sleep(0.01)
                continue
            raw = item[2]
            for _attempt in range(30):  # retried until acknowledged, as Meta does
                try:
                    if session.post(self.url, data=raw, timeout=30, headers={
                            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                self.failures += 1
                time.sleep(1)
            self.last_post = max(self.last_post, time.time())

    def wrong(self) -> tuple[int, int]:
        """(messages whose status is not the last one posted, pending statuses left over)."""
        from apps.messaging.models import Message, PendingStatus

        final = dict(Message.objects.filter(wamid__in=list(self.expected)).values_list("wamid", "status"))
        wrong = sum(1 for wamid, status in self.expected.items() if final.get(wamid) != status)
        orphans = PendingStatus.objects.filter(wamid__in=list(self.expected)).count()
        return wrong, orphans


# -- experiment 7: malformed bodies --------------------------------------------------------
def malformed_deliveries(number, tag: str) -> list[tuple[str, str | None, bytes]]:
    """(what, the wamid to find stored or None, raw body) for each poison item of the issue."""
    from apps.simulator.webhooks import message_body

    def one(i: int, *, customer="5521990000001", name="Customer", wamid=None, text="hello", kind="text",
            content=None) -> dict:
        return message_body(number, customer=customer, profile_name=name, wamid=wamid or f"wamid.{tag}.{i:06d}",
                            type=kind, content=content if content is not None else {"body": text})

    raw = lambda body: json.dumps(body, separators=(",", ":")).encode()
    long_wamid = f"wamid.{tag}.000004." + "W" * 300
    items = [
        ("NUL in the text", f"wamid.{tag}.000000", raw(one(0, text="before\x00after"))),
        ("lone surrogate", f"wamid.{tag}.000001", raw(one(1, text="broken \ud800 pair"))),
        ("profile name > 200 chars", f"wamid.{tag}.000002", raw(one(2, name="N" * 300))),
        ("from > 32 chars", f"wamid.{tag}.000003", raw(one(3, customer="5" * 40))),
        ("wamid > 255 chars", long_wamid, raw(one(4, wamid=long_wamid))),
        ("contact card not an object", f"wamid.{tag}.000005",
         raw(one(5, kind="contacts", content=["not an object", 42]))),
    ]
    depth = 100_000
    deep = ('{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":'
            + '{"a":' * depth + "1" + "}" * depth + "}]}]}").encode()
    items.append(("body nested 100,000 deep", None, deep))
    return items
