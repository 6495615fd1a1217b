#!/usr/bin/env python
"""How long the inbound drain's transactions stay open when several drains share a
backlog that repeats itself (Meta's redeliveries) and holds the statuses of messages
being read.

A backlog of stored deliveries on PostgreSQL: N customer messages, each delivered
3 times (three rows, shuffled; --copies), and the statuses (sent, delivered, read) of M
outbound messages, one delivery each, some of them in their message's own deliveries'
batches. P worker processes (as the prefork inbound worker: INBOUND_CONCURRENCY=4)
each drain (`webhook_events_drain`, its batch size given) until nothing is left.
Prints per batch size: the drains, the wall time of each drain call (its transaction
plus the commit's live events) at p50 / p95 / max, the time to drain all, and checks
that every message is stored once and every status applied.

Usage: python bench/drain_contention.py [--messages 1500] [--outbound 500] [--processes 4] [--copies 3]
       [--batches 200,50]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
DB_NAME = os.environ.get("BENCH_DB_NAME", "inbox_bench_drain")
SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "990000000000011"
WABA_ID = "990000000000012"
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
    "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/11"),
    "SECRET_KEY": "bench-secret-key-" + "x" * 40,
    "FIELD_ENCRYPTION_KEY": "bXktYmVuY2gta2V5LW15LWJlbmNoLWtleS0xMjM0NTY=",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "GRAPH_API_BASE": "http://127.0.0.1:9/unused",
    "LOG_LEVEL": "ERROR",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
os.environ.update(ENV)


def prepare(outbound: int) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from apps.accounts.models import Organization
    from apps.conversations.models import Contact, Conversation
    from apps.messaging.models import Direction, Message, Status
    from apps.whatsapp.models import WhatsAppNumber

    org = Organization.objects.create(name="Bench", slug="bench-drain")
    number = WhatsAppNumber.objects.create(
        organization=org, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, display_phone_number="15550001112",
        app_secret=SECRET, access_token="bench-token")
    contacts = Contact.objects.bulk_create([Contact(organization=org, wa_id=customer(i), phone=f"+{customer(i)}",
                                                    profile_name=f"Customer {customer(i)}") for i in range(outbound)])
    conversations = Conversation.objects.bulk_create([
        Conversation(organization=org, number=number, contact=contact) for contact in contacts])
    Message.objects.bulk_create([
        Message(organization=org, conversation=conversation, number=number, direction=Direction.OUTBOUND,
                author_type="agent", type="text", text="Hi", content={"body": "Hi"}, status=Status.PENDING,
                wamid=f"wamid.OUT{i:08d}")
        for i, conversation in enumerate(conversations)])


def customer(i: int) -> str:
    return f"55119{i:08d}"


def envelope(value: dict) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001112", "phone_number_id": PHONE_NUMBER_ID}, **value}}]}]}


def backlog(messages: int, outbound: int, copies: int) -> None:
    """Store the deliveries as the webhook view does (received, signed)."""
    from apps.messaging.models import Message, PendingStatus
    from apps.providers.meta.signature import secret_fingerprint
    from apps.inbound.models import WebhookEvent

    WebhookEvent.objects.all().delete()
    Message.objects.filter(direction="in").delete()
    Message.objects.filter(direction="out").update(status="pending", sent_at=None, delivered_at=None, read_at=None)
    PendingStatus.objects.all().delete()
    ts = int(time.time())
    bodies = []
    for i in range(messages):
        who = customer(i % max(outbound, 1))
        body = envelope({"contacts": [{"profile": {"name": f"Customer {who}"}, "wa_id": who}],
                         "messages": [{"from": who, "id": f"wamid.IN{i:08d}", "timestamp": str(ts), "type": "text",
                                       "text": {"body": f"Message {i}"}}]})
        bodies += [body] * copies  # Meta's redeliveries
    for i in range(outbound):
        for k, state in enumerate(("sent", "delivered", "read")):
            bodies.append(envelope({"statuses": [{"id": f"wamid.OUT{i:08d}", "status": state,
                                                  "timestamp": str(ts + k), "recipient_id": customer(i)}]}))
    random.seed(7)
    random.shuffle(bodies)
    signed = secret_fingerprint(SECRET)
    WebhookEvent.objects.bulk_create([
        WebhookEvent(body=json.dumps(body).encode(), signature=WebhookEvent.Signature.VALID, signed_by=signed)
        for body in bodies], batch_size=1000)


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


def drain_worker(limit: int, start, out) -> None:
    from django.db import connections

    connections.close_all()
    from apps.inbound.services import webhook_events_drain

    # A drain whose first try failed (a deadlock between drains, say) logs a warning
    # and goes again batch by batch.
    retried = _Count()
    logger = logging.getLogger("apps.inbound.services.drain")
    logger.addHandler(retried)
    logger.setLevel(logging.WARNING)
    start.wait()
    times = []
    while True:
        began = time.monotonic()
        claimed = webhook_events_drain(limit=limit)
        if not claimed:
            break
        times.append(time.monotonic() - began)
    out.put((times, retried.count))


def run(limit: int, processes: int, messages: int, outbound: int, copies: int) -> None:
    from django.db import connections
    from django.db.models import Count

    from apps.messaging.models import Message, PendingStatus
    from apps.inbound.models import WebhookEvent

    backlog(messages, outbound, copies)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, out = context.Event(), context.Queue()
    workers = [context.Process(target=drain_worker, args=(limit, start, out)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every process started
    began = time.monotonic()
    start.set()
    times, retried = [], 0
    for _ in workers:
        found, count = out.get()
        times += found
        retried += count
    elapsed = time.monotonic() - began
    for worker in workers:
        worker.join()
    times.sort()
    stored = Message.objects.filter(direction="in").count()
    read = Message.objects.filter(direction="out", status="read").count()
    states = dict(WebhookEvent.objects.values_list("status").annotate(n=Count("id")).order_by())
    print(f"batch {limit:>3}: {len(times)} drains, per drain p50 {statistics.median(times):.2f} s, "
          f"p95 {times[int(0.95 * (len(times) - 1))]:.2f} s, max {times[-1]:.2f} s, {retried} first tries failed; "
          f"all drained in {elapsed:.1f} s; "
          f"messages stored {stored}/{messages}, read {read}/{outbound}, "
          f"statuses waiting {PendingStatus.objects.count()}, deliveries {states}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--outbound", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--copies", type=int, default=3, help="deliveries of each message")
    parser.add_argument("--batches", default="200,50")
    args = parser.parse_args()
    prepare(args.outbound)
    print(f"{args.messages} messages x {args.copies} deliveries, {args.outbound} x 3 statuses, {args.processes} processes; "
          f"load average {os.getloadavg()[0]:.1f}")
    for limit in [int(b) for b in args.batches.split(",")]:
        run(limit, args.processes, args.messages, args.outbound, args.copies)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
