#!/usr/bin/env python
"""Send throughput benchmark.

Real Celery workers (threads pool, the `outbound` queue, as in the Procfile) send
through Redis rate limits to the project's simulator, served as for load tests
(`manage.py simulator_serve`: aiohttp's web server, 2 processes, one event loop and
8 threads each) and set to answer every request after 200 ms (Meta is far away). PostgreSQL holds both
sides (database inbox_bench_send). Status webhooks are OFF in the simulator, so they
do not compete with the sends for the machine's two cores.

Prints, measured in the same run, from the simulator's request log (each request's
arrival time, in one-second buckets) and the product's messages:

1. several numbers at the default 80/s at once: the rate achieved per number and
   overall, against each number's limit (floor: >= 95% of it), and the busiest
   second of each number (ceiling: never above the limit);
2. a backlog of 1,000 messages on one number: time until all are sent
   (target: within 15 s);
3. 10% of requests answered 5xx or 429 (half each): duplicates and losses.
   "Accepted" means answered 200 with a wamid: the simulator stores a message
   for each such answer (SimulatedMessage). Each product message has a unique
   text; a duplicate is a text the simulator accepted more than once; a loss is
   a product message that does not end "sent" with the wamid of its accepted
   copy. Target: 0 and 0;
4. the limit lifted (1,000/s per number): 10,000 messages over 4 numbers, stored
   first, then each number's sending started; the rate across numbers (target:
   1,000 messages/s, Meta's highest tier), next to the floor measured in the same
   run: the bare exchange on this machine, the same client library and
   concurrency shape (the workers' transport, apps/providers/meta/transport.py: the
   workers' processes x their calls in flight, SEND_CONCURRENCY, which caps any
   rate at in-flight / latency) posting to a bare WSGI endpoint (`bare_app` below:
   no Django, no database) served by the same server as the simulator (aiohttp's, with
   the same processes and threads), answering a
   wamid-shaped JSON after the same latency.

Usage: python bench/send_throughput.py [--quick] [--workers N] [--threads N] [--send-concurrency N] [--only 1234]
       [--no-floor]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
BIN = Path(PY).parent
DB_NAME = "inbox_bench_send"
LATENCY_MS = 200
DEFAULT_LIMIT = 80
LIFTED_LIMIT = 1000
PORT = None  # set in main()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(port: int, pool: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "DB_POOL_MAX_SIZE": str(pool),
        "REDIS_URL": "redis://127.0.0.1:6379/10",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "FIELD_ENCRYPTION_KEY": "bXktYmVuY2gta2V5LW15LWJlbmNoLWtleS0xMjM0NTY=",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "GRAPH_API_BASE": f"http://127.0.0.1:{port}/simulator/graph",
        "SIMULATOR_ENABLED": "true",
        # Transient errors come back quickly in the failure phase (the default is 2 s).
        "SEND_RETRY_BASE_DELAY": "0.5",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def prepare_database(env: dict, numbers: int):
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    import redis

    for db in (10, 11):
        redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}").flushdb()
    import django

    django.setup()
    from apps.accounts.models import Organization
    from apps.simulator.models import SimulatorConfig
    from apps.whatsapp.models import WhatsAppNumber

    org = Organization.objects.create(name="Bench", slug="bench")
    for i in range(numbers):
        WhatsAppNumber.objects.create(
            organization=org, phone_number_id=f"99100000000{i:04d}", waba_id="991000000009999",
            display_phone_number=f"1555000{i:04d}", access_token="bench-token", rate_limit_per_second=DEFAULT_LIMIT,
        )
    SimulatorConfig.objects.update_or_create(pk=1, defaults={
        "latency_ms": LATENCY_MS, "send_status_webhooks": False, "status_delay": 0,
        "error_5xx_rate": 0, "error_429_rate": 0, "fail_code": None, "fail_count": 0,
    })
    return org


class Process:
    def __init__(self, name: str, cmd: list[str], env: dict, logdir: str):
        self.name = name
        self.log = open(os.path.join(logdir, f"{name}.log"), "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


SIMULATOR_PROCESSES = 2
SIMULATOR_THREADS = 8


def start_simulator(env: dict, port: int, logdir: str) -> Process:
    cmd = [PY, "manage.py", "simulator_serve", "--bind", f"127.0.0.1:{port}", "--processes", str(SIMULATOR_PROCESSES),
           "--threads", str(SIMULATOR_THREADS)]
    return wait_listening(Process("simulator", cmd, env, logdir), port, logdir)


def wait_listening(server: Process, port: int, logdir: str) -> Process:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} did not start: see {logdir}/{server.name}.log")


# -- the floor: the bare exchange ----------------------------------------------------------
def bare_app(environ, start_response):
    """The floor's server side (WSGI, served as the simulator is: `--floor-server`):
    read the JSON body, answer Meta's shape of an accepted message after the same
    latency (held by the server, as the simulator's). No Django, no database, no
    request log."""
    started = time.monotonic()
    import json

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    to = str(body.get("to", ""))
    answer = json.dumps({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                         "messages": [{"id": "wamid.SIM" + uuid.uuid4().hex.upper()}]}).encode()
    answer_at = environ.get("simulator.answer_at")
    if answer_at is not None:
        answer_at(started + LATENCY_MS / 1000)
    else:
        pause = LATENCY_MS / 1000 - (time.monotonic() - started)
        if pause > 0:
            time.sleep(pause)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]


def floor_server(port: int) -> None:
    """`bare_app` served as the simulator is (manage.py simulator_serve: the same
    server, processes and threads)."""
    from apps.simulator.server import serve_processes

    serve_processes(bare_app, "127.0.0.1", port, threads=SIMULATOR_THREADS, processes=SIMULATOR_PROCESSES)


def floor_client(url: str, count: int, concurrency: int, start_at: float) -> None:
    """The floor's client side (one process): `count` messages posted through the
    workers' own transport (apps/providers/meta/transport.py: one event loop, at most
    `concurrency` calls in flight, kept-alive connections), JSON encoded with a
    bearer token and the answer parsed for its wamid, as the Graph API client does.
    Prints the answer times (epoch seconds) and the errors as JSON."""
    import json

    from apps.providers.meta import transport

    headers = {"Authorization": "Bearer bench-token", "User-Agent": "whatsapp-inbox/1.0",
               "Content-Type": "application/json"}
    sent: list[float] = []
    errors = [0]

    def call(i: int):
        async def run(pool):
            payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": f"5599{i:07d}",
                       "type": "text", "text": {"body": f"bench floor {i}"}}
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            answer = await pool.request("POST", url, headers, body, connect_timeout=10, read_timeout=10)
            if answer.status_code == 200 and json.loads(answer.content)["messages"][0]["id"]:
                sent.append(time.time())  # answered (the calls wait for a place in flight first)
            else:
                errors[0] += 1
        return run

    sender = transport.Sender(concurrency)
    # Open the kept-alive connections first (not counted), as a running worker has them.
    sender.schedule([(time.monotonic(), call(0)) for _ in range(concurrency)], late_after=3600).wait()
    sent.clear()
    pause = start_at - time.time()
    if pause > 0:
        time.sleep(pause)
    cpu = time.process_time()  # this process's CPU from the start on (the warm-up excluded)
    batch = sender.schedule([(time.monotonic(), call(i)) for i in range(count)], late_after=3600)
    batch.wait()
    errors[0] += sum(1 for result in batch.results if isinstance(result, Exception))
    print(json.dumps({"sent": sent, "errors": errors[0], "cpu": time.process_time() - cpu}))


def measure_floor(count: int, processes: int, concurrency: int, logdir: str) -> dict:
    """The bare exchange: `processes` client processes with `concurrency` calls in
    flight each posting `count` messages to `bare_app` served as the simulator is."""
    import json

    port = free_port()
    cmd = [PY, __file__, "--floor-server", str(port)]
    server = wait_listening(Process(f"floor-server-{concurrency}", cmd, dict(os.environ), logdir), port, logdir)
    try:
        time.sleep(1)
        start_at = time.time() + 3
        share = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
        clients = [
            subprocess.Popen([PY, __file__, "--floor-client", f"http://127.0.0.1:{port}/v23.0/1/messages",
                              "--floor-count", str(n), "--floor-concurrency", str(concurrency), "--floor-start",
                              repr(start_at)], cwd=ROOT, stdout=subprocess.PIPE)
            for n in share
        ]
        pause = start_at - time.time()
        if pause > 0:
            time.sleep(pause)
        cpu_server = cpu_seconds([server])
        outputs = [c.communicate()[0] for c in clients]
        cpu_server = cpu_seconds([server]) - cpu_server
    finally:
        server.stop()
    sent, errors, cpu_clients = [], 0, 0.0
    for out in outputs:
        result = json.loads(out)
        sent += result["sent"]
        errors += result["errors"]
        cpu_clients += result["cpu"]
    sent.sort()
    return {"sent": len(sent), "errors": errors, "rate": rate(sent), "in_flight": processes * concurrency,
            "client_ms": cpu_clients * 1000 / max(len(sent), 1), "server_ms": cpu_server * 1000 / max(len(sent), 1)}


def start_workers(env: dict, count: int, threads: int, logdir: str) -> list[Process]:
    return [
        Process(f"worker{i}", [str(BIN / "celery"), "-A", "config", "worker", "-Q", "outbound", "--pool", "threads",
                               "--concurrency", str(threads), "-n", f"bench-send{i}@%h", "--without-gossip",
                               "--without-mingle", "--without-heartbeat", "-l", "WARNING"], env, logdir)
        for i in range(count)
    ]


def cpu_seconds(processes: list[Process]) -> float:
    """CPU time used so far by `processes` and their children (the servers' forked processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    roots = {p.proc.pid for p in processes}
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid in roots or ppid in roots:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def cpu_cost(before: tuple[float, float], workers: list[Process], server: Process, count: int) -> str:
    worker = (cpu_seconds(workers) - before[0]) * 1000 / max(count, 1)
    simulator = (cpu_seconds([server]) - before[1]) * 1000 / max(count, 1)
    return f"workers {worker:.1f} ms, simulator {simulator:.1f} ms"


def tasks_run() -> dict:
    """Tasks each worker has run so far, by name (Celery's remote control)."""
    from collections import Counter

    from config.celery import app

    total = Counter()
    for stats in (app.control.inspect(timeout=2).stats() or {}).values():
        total.update(stats.get("total") or {})
    return total


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- queueing and measuring -----------------------------------------------------------------
def queue_messages(org, plan: dict, tag: str, *, kick: str = "each") -> list[int]:
    """Create pending outbound text messages ({number: count}, each to its own
    customer: the pair limit is one message per 6 s) and queue their sends as
    message_send does on commit (`send_kick`: a task per number unless one is
    waiting to start; each task takes a batch of the number's pending messages).
    `kick`: "each" message as it would be on its commit, the "first" of each
    number only (the others are claimed by its task and the batches it queues, as
    when their commits found the number's kick set), or "none" (the caller kicks:
    `kick_first`)."""
    from django.utils import timezone

    from apps.conversations.models import Contact, Conversation
    from apps.messaging.models import Author, Direction, Message, Status
    from apps.messaging.sending import send_kick

    now = timezone.now()
    ids, queued = [], []
    for number, count in plan.items():
        prefix = f"55{number.pk:02d}{'abcdefgh'.index(tag[-1])}"  # a phase's customers are new
        contacts = Contact.objects.bulk_create(
            [Contact(organization=org, wa_id=f"{prefix}{i:06d}", profile_name=f"Customer {i}") for i in range(count)]
        )
        conversations = Conversation.objects.bulk_create([
            Conversation(organization=org, contact=c, number=number, last_customer_message_at=now,
                         last_message_at=now) for c in contacts
        ])
        messages = Message.objects.bulk_create([
            Message(organization=org, conversation=conv, number=number, direction=Direction.OUTBOUND,
                    author_type=Author.INTEGRATION, type="text", status=Status.PENDING, timestamp=now,
                    text=f"bench {tag} {number.pk} {i}", content={"body": f"bench {tag} {number.pk} {i}"})
            for i, conv in enumerate(conversations)
        ])
        ids += [m.pk for m in messages]
        queued += messages if kick == "each" else messages[:1]
    if kick != "none":
        for message in queued:
            send_kick(message)
    return ids


def kick_first(ids: list[int]) -> None:
    """`queue_messages(kick="first")` for messages created with kick="none"."""
    from apps.messaging.models import Message
    from apps.messaging.sending import send_kick

    # PostgreSQL's DISTINCT ON: each number's first message, one row per number.
    for message in Message.objects.filter(pk__in=ids).order_by("number_id", "pk").distinct("number_id"):
        send_kick(message)


def wait_done(ids: list[int], timeout: float) -> float:
    """Seconds until none of `ids` is pending (nan after `timeout`)."""
    from apps.messaging.models import Message, Status

    began = time.perf_counter()
    # By their id range: a phase's messages are created together (one bulk insert per
    # number, nothing else creates messages meanwhile), and a list of 10,000 ids
    # every 0.2 s cost this process and PostgreSQL CPU the sending needs.
    first, last = min(ids), max(ids)
    while time.perf_counter() - began < timeout:
        if not Message.objects.filter(pk__gte=first, pk__lte=last, status=Status.PENDING).exists():
            return time.perf_counter() - began
        time.sleep(0.2)
    return float("nan")


def request_seconds(since_id: int, number) -> list[float]:
    """Arrival times (epoch seconds) of the send requests the simulator got for `number`."""
    from apps.simulator.models import SimulatedRequest

    rows = SimulatedRequest.objects.filter(
        pk__gt=since_id, method="POST", path__endswith=f"/{number.phone_number_id}/messages"
    ).values_list("received_at", flat=True)
    return sorted(t.timestamp() for t in rows)


def buckets(times: list[float]) -> list[int]:
    if not times:
        return []
    first, last = int(times[0]), int(times[-1])
    counts = [0] * (last - first + 1)
    for t in times:
        counts[int(t) - first] += 1
    return counts


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")


def last_request_id() -> int:
    from apps.simulator.models import SimulatedRequest

    return SimulatedRequest.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def check_exactly_once(ids: list[int]) -> dict:
    """Duplicates and losses (see the module doc)."""
    from collections import Counter

    from apps.messaging.models import Message, Status
    from apps.simulator.models import SimulatedMessage

    messages = list(Message.objects.filter(pk__in=ids).values_list("text", "status", "wamid"))
    texts = {text for text, _, _ in messages}
    accepted = [
        (p["text"]["body"], wamid)
        for p, wamid in SimulatedMessage.objects.filter(direction="out").values_list("payload", "wamid")
        if p.get("text", {}).get("body") in texts
    ]
    per_text = Counter(text for text, _ in accepted)
    accepted_wamid = dict(accepted)
    duplicated = sum(1 for n in per_text.values() if n > 1)
    lost = sum(
        1 for text, status, wamid in messages if status != Status.SENT or accepted_wamid.get(text) != wamid
    )
    statuses = Counter(status for _, status, _ in messages)
    return {"messages": len(messages), "accepted": len(accepted), "duplicated": duplicated, "lost": lost,
            "statuses": dict(statuses)}


def set_simulator(**changes):
    from apps.simulator.models import SimulatorConfig

    SimulatorConfig.objects.filter(pk=1).update(**changes)


def set_limits(numbers, limit: int):
    from apps.whatsapp.models import WhatsAppNumber

    WhatsAppNumber.objects.filter(pk__in=[n.pk for n in numbers]).update(rate_limit_per_second=limit)
    for n in numbers:
        n.rate_limit_per_second = limit


def failure_statistics(since_id: int) -> dict:
    from collections import Counter

    from apps.simulator.models import SimulatedRequest

    return dict(Counter(SimulatedRequest.objects.filter(pk__gt=since_id).values_list("status_code", flat=True)))


def print_floor(product: float, count: int, processes: int, logdir: str) -> None:
    """Phase 4's floor (see the module doc), printed next to the product's rate."""
    from apps.messaging.sending import send_concurrency

    time.sleep(1)
    concurrency = send_concurrency()  # the workers' (same environment)
    f = measure_floor(count, processes, concurrency, logdir)
    cap = f["in_flight"] / (LATENCY_MS / 1000)
    print(f"   floor: bare client -> bare server, same latency: {f['rate']:.0f}/s (the workers' shape: {processes} "
          f"processes x {concurrency} calls in flight each, {f['in_flight']} in all, at most {cap:.0f}/s at "
          f"{LATENCY_MS} ms; {f['sent']} answered, {f['errors']} errors; CPU per message client "
          f"{f['client_ms']:.2f} ms, server {f['server_ms']:.2f} ms)  (load {load()})")
    if f["rate"] < LIFTED_LIMIT:
        why = (f"{f['in_flight']} calls in flight cannot exceed {cap:.0f}/s at {LATENCY_MS} ms"
               if cap < LIFTED_LIMIT else "the CPU of this machine")
        print(f"      the bare exchange itself does NOT reach {LIFTED_LIMIT}/s on this machine with this shape "
              f"(bound: {why})")
    print(f"      product: {product / f['rate']:.0%} of this floor")


# -- the run --------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches (a smoke test of the benchmark)")
    parser.add_argument("--numbers", type=int, default=3, help="numbers sending at once at the default limit")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=64, help="threads per worker process")
    parser.add_argument("--send-concurrency", type=int, help="SEND_CONCURRENCY of the workers (default: the setting)")
    parser.add_argument("--only", default="1234", help="the parts to run, e.g. 14")
    parser.add_argument("--no-floor", action="store_true", help="phase 4 without the bare-exchange floor")
    parser.add_argument("--floor-client", help=argparse.SUPPRESS)  # a floor client process (internal)
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)  # the floor's server (internal)
    parser.add_argument("--floor-count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-concurrency", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        floor_server(args.floor_server)
        return
    if args.floor_client:
        floor_client(args.floor_client, args.floor_count, args.floor_concurrency, args.floor_start)
        return
    per_number, backlog, failing, lifted = (240, 250, 300, 1500) if args.quick else (960, 1000, 1500, 10000)

    port = free_port()
    if args.send_concurrency:
        os.environ["SEND_CONCURRENCY"] = str(args.send_concurrency)
    env = environment(port, pool=10)
    os.environ.update(environment(port, pool=4))
    numbers_total = max(args.numbers, 4)
    org = prepare_database(env, numbers_total + 1)
    from apps.messaging.sending import send_concurrency
    from apps.whatsapp.models import WhatsAppNumber

    *numbers, warm = list(WhatsAppNumber.objects.order_by("pk"))
    logdir = tempfile.mkdtemp(prefix="bench-send-")
    print(f"simulator: simulator_serve {SIMULATOR_PROCESSES} processes x {SIMULATOR_THREADS} threads, answers after "
          f"{LATENCY_MS} ms, status webhooks off;"
          f" workers: {args.workers} x --pool threads --concurrency {args.threads}, {send_concurrency()} calls in flight"
          f" each (SEND_CONCURRENCY); logs in {logdir}")
    server = start_simulator(env, port, logdir)
    workers = start_workers(env, args.workers, args.threads, logdir)
    failures = []
    try:
        time.sleep(3)  # workers connect to the broker
        tag = uuid.uuid4().hex[:6]
        # Warm-up on a number of its own, not measured: every thread opens its
        # kept-alive connection to the simulator (as a running worker has), so that
        # connection set-up does not bunch the first second's requests.
        set_limits([warm], LIFTED_LIMIT)
        wait_done(queue_messages(org, {warm: args.workers * args.threads * 2}, tag + "h"), timeout=120)
        time.sleep(1)
        busy = numbers[: args.numbers]

        # 1. Several numbers at the default limit, all at once.
        if "1" in args.only:
            print(f"\n1. {len(busy)} numbers at {DEFAULT_LIMIT}/s, {per_number} messages each, at once  (load {load()})")
            since = last_request_id()
            cpu = cpu_seconds(workers), cpu_seconds([server])
            began = time.perf_counter()
            ids = queue_messages(org, {n: per_number for n in busy}, tag + "a")
            wait_done(ids, timeout=len(ids) / 5 + 60)
            took = time.perf_counter() - began  # from the queueing on
            overall = []
            for n in busy:
                times = request_seconds(since, n)
                overall += times
                counts = buckets(times)
                achieved = rate(times)
                ok_floor = achieved >= 0.95 * n.rate_limit_per_second
                ok_ceiling = max(counts, default=0) <= n.rate_limit_per_second
                failures += [] if ok_floor and ok_ceiling else [f"number {n.pk} at the default limit"]
                print(f"   number {n.phone_number_id}: {len(times)} sent, {achieved:.1f}/s = "
                      f"{achieved / n.rate_limit_per_second:.1%} of its {n.rate_limit_per_second}/s (floor 95%: "
                      f"{'met' if ok_floor else 'NOT met'}); busiest second {max(counts, default=0)} "
                      f"(ceiling {n.rate_limit_per_second}: {'met' if ok_ceiling else 'NOT met'}); per second {counts}")
            overall.sort()
            print(f"   overall: {len(overall)} sent in {took:.1f}s, {rate(overall):.1f}/s against "
                  f"{sum(n.rate_limit_per_second for n in busy)}/s of limits  (load {load()})")
            print(f"   CPU per message: {cpu_cost(cpu, workers, server, len(ids))}")
            print(f"   {check_exactly_once(ids)}")

        # 2. A backlog on one number.
        if "2" in args.only:
            time.sleep(2)
            target = 15 * backlog / 1000
            print(f"\n2. backlog of {backlog} messages on one number at {DEFAULT_LIMIT}/s  (load {load()})")
            since = last_request_id()
            began = time.perf_counter()
            ids = queue_messages(org, {numbers[0]: backlog}, tag + "b")
            drained = wait_done(ids, timeout=len(ids) / 5 + 60)
            drained = time.perf_counter() - began if drained == drained else drained  # from the queueing on
            times = request_seconds(since, numbers[0])
            counts = buckets(times)
            ok = drained <= target and max(counts, default=0) <= DEFAULT_LIMIT
            failures += [] if ok else ["backlog"]
            print(f"   drained in {drained:.1f}s (target {target:.1f}s: {'met' if ok else 'NOT met'}), "
                  f"{rate(times):.1f}/s, busiest second {max(counts, default=0)}; per second {counts}  (load {load()})")
            print(f"   {check_exactly_once(ids)}")

        # 3. 10% of the requests fail (5% answered 500, 5% answered 429 code 130429).
        if "3" in args.only:
            time.sleep(2)
            set_simulator(error_5xx_rate=0.05, error_429_rate=0.05)
            print(f"\n3. {failing} messages over {len(busy)} numbers, 5% answered 500 and 5% 429  (load {load()})")
            since = last_request_id()
            began = time.perf_counter()
            ids = queue_messages(org, {n: failing // len(busy) for n in busy}, tag + "c")
            wait_done(ids, timeout=len(ids) / 5 + 120)
            took = time.perf_counter() - began  # from the queueing on
            set_simulator(error_5xx_rate=0, error_429_rate=0)
            result = check_exactly_once(ids)
            ok = result["duplicated"] == 0 and result["lost"] == 0 and result["messages"] == len(ids)
            failures += [] if ok else ["failure injection"]
            answers = failure_statistics(since)
            print(f"   answers {answers} ({(sum(answers.values()) - answers.get(200, 0)) / max(sum(answers.values()), 1):.1%} "
                  f"failed); {result['messages']} messages, {result['accepted']} accepted once each, "
                  f"duplicated {result['duplicated']}, lost {result['lost']} (target 0 and 0: {'met' if ok else 'NOT met'}); "
                  f"all settled in {took:.1f}s; statuses {result['statuses']}")

        # 4. The limit lifted.
        if "4" in args.only:
            time.sleep(2)
            set_limits(numbers, LIFTED_LIMIT)
            print(f"\n4. limit lifted to {LIFTED_LIMIT}/s, {lifted} messages over {len(numbers)} numbers  (load {load()})")
            since = last_request_id()
            # The messages are stored first, then each number's sending is started:
            # the machine's two cores go to the sending alone (creating 4,000 rows
            # in this process while they were sent took a sixth of the CPU).
            ids = queue_messages(org, {n: lifted // len(numbers) for n in numbers}, tag + "d", kick="none")
            tasks = tasks_run()
            print(f"   {len(ids)} messages stored; sending  (load {load()})", flush=True)
            cpu = cpu_seconds(workers), cpu_seconds([server])
            began = time.perf_counter()
            kick_first(ids)
            wait_done(ids, timeout=len(ids) / 5 + 60)
            took = time.perf_counter() - began  # from the first kick on
            overall = sorted(t for n in numbers for t in request_seconds(since, n))
            counts = buckets(overall)
            steady = counts[1:-1] or counts
            failures += [] if rate(overall) >= LIFTED_LIMIT else [f"{LIFTED_LIMIT}/s with the limit lifted"]
            print(f"   {len(overall)} sent in {took:.1f}s: {rate(overall):.0f}/s overall, best second {max(counts, default=0)},"
                  f" median second {sorted(steady)[len(steady) // 2] if steady else 0} (target {LIFTED_LIMIT}/s: "
                  f"{'met' if rate(overall) >= LIFTED_LIMIT else 'NOT met'}); per second {counts}  (load {load()})")
            print(f"   CPU per message: {cpu_cost(cpu, workers, server, len(ids))}")
            ran = tasks_run()
            ran.subtract(tasks)
            print(f"   tasks run: {dict(+ran)}")
            print(f"   {check_exactly_once(ids)}")
            if not args.no_floor:
                print_floor(rate(overall), lifted, args.workers, logdir)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
    print("\nall floors met" if not failures else f"\nNOT met: {', '.join(failures)}")


if __name__ == "__main__":
    main()
