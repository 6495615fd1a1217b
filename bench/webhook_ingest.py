#!/usr/bin/env python
"""Webhook ingestion benchmark.

Runs the production HTTP configuration (gunicorn serving config.wsgi, as in the
Procfile) on PostgreSQL and Redis, pinned to one core, and loads it from the
other core over loopback with signed webhook POSTs (a mix of messages and
statuses). Prints, measured in the same run:

1. peak acknowledgements/s and p50/p99 latency (wrk), for the webhook and for a
   bare JSON view on the same server (the floor);
2. p50/p99 acknowledgement latency at a constant 300 webhooks/s;
3. a burst at twice that rate with the inbound worker running: errors and losses;
4. the end-to-end processing rate with the worker running (started and warmed
   first): N message deliveries posted as fast as the server takes them, N over the
   time from the first POST to the last message stored (the target's figure);
5. a backlog of message deliveries posted with the worker stopped, then drained
   (with and without the worker's start).

Usage: python bench/webhook_ingest.py [--quick]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379, wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
BIN = Path(PY).parent
SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "990000000000001"
DB_NAME = "inbox_bench"
ENV = {
    **os.environ,
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
    "SECRET_KEY": "bench-secret-key-" + "x" * 40,
    "FIELD_ENCRYPTION_KEY": "bXktYmVuY2gta2V5LW15LWJlbmNoLWtleS0xMjM0NTY=",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "META_APP_SECRET": SECRET,
    "BENCH_FLOOR_VIEW": "true",
    "GRAPH_API_BASE": "http://127.0.0.1:9/unused",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
os.environ.update(ENV)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, **kw)


def prepare_database():
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    run([PY, "manage.py", "migrate", "--noinput", "-v0"])
    import redis

    for db in (12, 13):
        redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}").flushdb()
    import django

    django.setup()
    from apps.accounts.models import Organization
    from apps.whatsapp.models import WhatsAppNumber

    org = Organization.objects.create(name="Bench", slug="bench")
    WhatsAppNumber.objects.create(
        organization=org, phone_number_id=PHONE_NUMBER_ID, waba_id="990000000000002",
        display_phone_number="15550001111", app_secret=SECRET, access_token="bench-token",
    )


def message_payload(i: int, ts: int) -> dict:
    wa_id = f"55119{i % 5000:08d}"
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "990000000000002", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": f"Customer {i % 5000}"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.BENCH{i:010d}", "timestamp": str(ts), "type": "text",
                          "text": {"body": f"Hello, this is message number {i}, where is my order?"}}],
        }}]}],
    }


def status_payload(i: int, ts: int) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "990000000000002", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": [{"id": f"wamid.OUT{i:010d}", "status": random.choice(["sent", "delivered", "read"]),
                          "timestamp": str(ts), "recipient_id": f"55119{i % 5000:08d}",
                          "conversation": {"id": f"conv{i % 5000}", "origin": {"type": "service"}},
                          "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"}}],
        }}]}],
    }


def signed_bodies(start: int, count: int, status_share: float = 0.3) -> list[tuple[str, bytes, bool]]:
    from apps.providers.meta.signature import sign_body

    ts = int(time.time())
    out = []
    for i in range(start, start + count):
        is_status = random.random() < status_share
        body = json.dumps(status_payload(i, ts) if is_status else message_payload(i, ts)).encode()
        out.append((sign_body(body, SECRET), body, not is_status))
    return out


class Server:
    def __init__(self, port: int):
        self.port = port
        cmd = ["taskset", "-c", "0", str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}",
               "-c", "config/gunicorn.conf.py"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start: " + self.proc.stderr.read().decode()[-2000:])
        # The socket is open before the workers have loaded the application: wait
        # until answers come quickly from every worker, so no run measures a boot.
        import urllib.request

        quick = 0
        while time.time() < deadline and quick < 20:
            began = time.perf_counter()
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}/bench/floor/", data=b"{}", method="POST"), timeout=60).read()
            except OSError:
                time.sleep(0.5)
                continue
            quick = quick + 1 if time.perf_counter() - began < 0.1 else 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


class Worker:
    """The inbound Celery worker (INBOUND_POOL / INBOUND_CONCURRENCY, as documented
    for production), not pinned: in production web and worker share the cores."""

    def __init__(self):
        pool = os.environ.get("INBOUND_POOL", "prefork")
        concurrency = os.environ.get("INBOUND_CONCURRENCY", "2")
        cmd = [str(BIN / "celery"), "-A", "config", "worker", "-Q", "inbound", "-P", pool,
               "-c", concurrency, "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(url: str, bodies_file: str, seconds: int) -> dict:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t", "1", "-c", "16", "-d", f"{seconds}s", "--latency",
         "-s", str(ROOT / "bench" / "wrk_post.lua"), url],
        env={**ENV, "BODIES": bodies_file}, capture_output=True, text=True, check=True,
    ).stdout
    figures = {"raw": out}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            figures["rps"] = float(parts[1])
        elif parts[:1] == ["50%"]:
            figures["p50"] = parts[1]
        elif parts[:1] == ["99%"]:
            figures["p99"] = parts[1]
        elif "Non-2xx" in line:
            figures["non2xx"] = int(parts[-1])
    return figures


async def constant_rate(port: int, items, rate: float, connections: int = 32) -> dict:
    """Send `items` at `rate`/s; latency from each request's scheduled time."""
    queue: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.2

    async def producer():
        for n, item in enumerate(items):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((start + n / rate, item))
        for _ in range(connections):
            queue.put_nowait(None)

    reconnects = 0

    async def exchange(reader, writer, sig, body) -> int:
        head = (f"POST /webhooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Hub-Signature-256: {sig}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line.startswith(b"HTTP/"):  # closed (or cut) by the server
            raise ConnectionResetError("closed by the server")
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        return int(status_line.split()[1])

    async def client():
        nonlocal reconnects
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (job := await queue.get()) is not None:
            scheduled, (sig, body, _) = job
            for attempt in range(5):
                try:
                    # Meta gives up on an answer after a while too; a stuck exchange must
                    # not hang the benchmark.
                    code = await asyncio.wait_for(exchange(reader, writer, sig, body), timeout=30)
                    break
                except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                    # The server closed a kept-alive connection (a worker recycled):
                    # reconnect and deliver again, as Meta does.
                    reconnects += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
            else:
                code = 599
            statuses[code] = statuses.get(code, 0) + 1
            latencies.append(time.perf_counter() - scheduled)
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(producer(), *(client() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "sent": len(latencies), "seconds": elapsed, "statuses": statuses,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": 1000 * latencies[-1], "reconnects": reconnects,
    }


def counts() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM whatsapp_webhookevent GROUP BY status")
        events = dict(cur.fetchall())
        cur.execute("SELECT count(*), count(DISTINCT wamid) FROM messaging_message WHERE direction = 'in'")
        messages, distinct = cur.fetchone()
    return {"events": events, "messages": messages, "distinct_wamids": distinct}


def first_message_stored() -> float:
    return _message_time("min")


def last_message_stored() -> float:
    return _message_time("max")


def _message_time(aggregate: str) -> float:
    """When the first/last inbound message row was written (the worker's clock, the
    same machine), as a Unix time."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT extract(epoch FROM {aggregate}(created_at)) FROM messaging_message WHERE direction = 'in'")
        return float(cur.fetchone()[0])


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the process `pid`."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the web server, the worker and the benchmark database's
    PostgreSQL backends between start() and stop(): a figure that other programs'
    load on the machine does not inflate (wall-clock figures are, see the load)."""

    def __init__(self, server: "Server", worker: "Worker"):
        self.parts = {"web": lambda: _tree(server.proc.pid), "worker": lambda: _tree(worker.proc.pid),
                      "postgres": self._backends, "load generator": lambda: [os.getpid()]}

    @staticmethod
    def _backends() -> list[int]:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME])
            return [row[0] for row in cur.fetchall()]

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: _cpu(pid) for pid in pids()} for name, pids in self.parts.items()}

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        # Processes that ended in between are not counted (none should: same pools).
        return {name: sum(cpu - self.before[name].get(pid, 0.0) for pid, cpu in after[name].items())
                for name in after}


def drain_batches() -> int:
    """How many drain transactions processed the deliveries (each stamps its own time)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(DISTINCT processed_at) FROM whatsapp_webhookevent")
        return cur.fetchone()[0]


def reset() -> None:
    """Empty the deliveries and messages (contacts and conversations stay) and the broker."""
    from django.db import connection
    import redis

    with connection.cursor() as cur:
        cur.execute("TRUNCATE whatsapp_webhookevent, messaging_message, messaging_pendingstatus CASCADE")
    redis.Redis.from_url(ENV["CELERY_BROKER_URL"]).flushdb()


def wait_processed(expected_messages: int, timeout: float) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        c = counts()
        if c["messages"] >= expected_messages and c["events"].get("received", 0) == 0:
            return time.perf_counter() - began
        time.sleep(0.25)
    return float("nan")


def ack_figures(port: int, tmp: str, peak_seconds: int, steady_seconds: int, burst_seconds: int) -> None:
    """Figures 1-3: peak acknowledgements, latency at 300/s, the burst with the worker."""
    # 1. Peak acknowledgement rate, worker stopped (only the acknowledgement is measured).
    peak_bodies = signed_bodies(0, 20000)
    bodies_file = os.path.join(tmp, "bodies.tsv")
    with open(bodies_file, "w") as fh:
        for sig, body, _ in peak_bodies:
            fh.write(f"{sig}\t{body.decode()}\n")
    floor = wrk(f"http://127.0.0.1:{port}/bench/floor/", bodies_file, peak_seconds)
    # The same bare view through the webhook's short middleware path
    # (apps/inbound/middleware.py): what the webhook would do with no work at all.
    short = wrk(f"http://127.0.0.1:{port}/bench/floor/short/", bodies_file, peak_seconds)
    hook = wrk(f"http://127.0.0.1:{port}/webhooks/whatsapp/", bodies_file, peak_seconds)
    print(f"peak, floor (bare JSON view, full middleware): {floor['rps']:.0f} req/s  p50 {floor['p50']}"
          f"  p99 {floor['p99']}")
    print(f"peak, floor (bare JSON view, the webhook's short path): {short['rps']:.0f} req/s  p50 {short['p50']}"
          f"  p99 {short['p99']}")
    print(f"peak, webhook acknowledged:  {hook['rps']:.0f} req/s  p50 {hook['p50']}  p99 {hook['p99']}"
          f"  non-2xx {hook.get('non2xx', 0)}  ({hook['rps'] / floor['rps']:.0%} of the full-middleware floor,"
          f" target >= 50%; {hook['rps'] / short['rps']:.0%} of the short-path floor)")

    # 2. Constant 300/s, acknowledgement latency (worker stopped).
    steady = asyncio.run(constant_rate(port, signed_bodies(100000, 300 * steady_seconds), 300))
    print(f"steady 300/s for {steady_seconds}s: p50 {steady['p50_ms']:.1f} ms  p99 {steady['p99_ms']:.1f} ms"
          f"  max {steady['max_ms']:.1f} ms  statuses {steady['statuses']}  (target p99 < 50 ms)")

    # Clear the backlog before the burst, so only the burst is counted.
    reset()

    # 3. Burst at 600/s with the worker running: nothing lost, no error.
    worker = Worker()
    try:
        burst_items = signed_bodies(200000, 600 * burst_seconds)
        burst = asyncio.run(constant_rate(port, burst_items, 600))
        expected = sum(1 for item in burst_items if item[2])
        drain = wait_processed(expected, timeout=600)
        c = counts()
        waiting = c["events"].get("received", 0) + c["events"].get("failed", 0)
        missing = expected - c["distinct_wamids"]
        # A message is lost only if nothing is left to process it.
        lost = missing if waiting == 0 else f"0 known ({missing} still queued in {waiting} deliveries)"
        errors = sum(n for code, n in burst["statuses"].items() if code != 200)
        print(f"burst 600/s for {burst_seconds}s with the worker: sent {burst['sent']}  non-200 {errors}  reconnects {burst['reconnects']}"
              f"  p99 {burst['p99_ms']:.1f} ms  events {c['events']}  messages {c['messages']}/{expected}"
              f"  lost {lost}  (processing finished {drain:.1f}s after the burst)")
    finally:
        worker.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test of the benchmark)")
    parser.add_argument("--e2e-only", action="store_true", help="only the end-to-end processing figures (4 and 5)")
    args = parser.parse_args()
    peak_seconds, steady_seconds, burst_seconds, backlog, live = (
        (3, 5, 5, 1000, 1500) if args.quick else (15, 20, 60, 10000, 5000))
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    random.seed(7)
    prepare_database()
    port = free_port()
    server = Server(port)
    tmp = tempfile.mkdtemp()
    try:
        print(f"load average at the start: {os.getloadavg()[0]:.1f}")
        if not args.e2e_only:
            ack_figures(port, tmp, peak_seconds, steady_seconds, burst_seconds)
        # 4. End to end with the worker running (the figure): the worker is
        # started and warmed first (its start is printed, not counted), then N message
        # deliveries are posted as fast as the server takes them; the rate is N over
        # the time from the first POST to the last message stored.
        reset()
        began = time.perf_counter()
        worker = Worker()
        try:
            warm = signed_bodies(300000, 50, status_share=0.0)
            asyncio.run(constant_rate(port, warm, 1000))
            started = wait_processed(len(warm), timeout=300)
            start_seconds = time.perf_counter() - began
            live_items = signed_bodies(500000, live, status_share=0.0)
            meter = CpuMeter(server, worker)
            meter.start()
            first_post = time.time()
            posted = asyncio.run(constant_rate(port, live_items, 100000, connections=16))
            done = wait_processed(len(warm) + live, timeout=900)
            last_stored = last_message_stored()
            cpu = meter.stop()
            batches = drain_batches()
        finally:
            worker.stop()
        span = last_stored - first_post
        post_errors = sum(n for code, n in posted["statuses"].items() if code != 200)
        print(f"worker start (spawn to the first {len(warm)} messages stored): {start_seconds:.1f}s"
              f"{'' if started == started else ' (not finished)'}")
        print(f"end to end, worker running: {live} message deliveries posted in {posted['seconds']:.1f}s"
              f" ({live / posted['seconds']:.0f}/s acknowledged, non-200 {post_errors}), last message stored"
              f" {span:.1f}s after the first POST = {live / span:.0f} messages/s  (target >= 500/s)"
              f"{'' if done == done else '  NOT ALL STORED'}")
        print(f"  drained in {batches} batches ({(live + len(warm)) / max(batches, 1):.0f} deliveries each on average)")
        total_cpu = sum(cpu.values())
        print("  CPU per message in that run: " + ", ".join(f"{name} {1000 * seconds / live:.2f} ms"
                                                           for name, seconds in cpu.items())
              + f", total {1000 * total_cpu / live:.2f} ms: at most {2 * live / total_cpu:.0f} messages/s on 2 idle"
              " cores (PostgreSQL's own background work not counted)")

        # 5. A backlog posted with no worker, then drained (worker start included, and
        # without it: from the first message stored to the last).
        reset()
        backlog_items = signed_bodies(400000, backlog, status_share=0.0)
        asyncio.run(constant_rate(port, backlog_items, 2000))
        began_wall, began = time.time(), time.perf_counter()
        worker = Worker()
        try:
            drained = wait_processed(backlog, timeout=900)
            first_stored, last_stored = first_message_stored(), last_message_stored()
        finally:
            worker.stop()
        print(f"backlog drained: {backlog} message deliveries stored {drained:.1f}s after the worker was spawned"
              f" = {backlog / drained:.0f} messages/s incl. worker start;"
              f" {backlog / (last_stored - first_stored):.0f} messages/s from the first message stored to the last"
              f" (worker start {first_stored - began_wall:.1f}s)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
