"""Sending with real Celery worker processes (Redis broker, PostgreSQL), and the
read-timeout ambiguity.

The worker tests start `celery worker` subprocesses on the test database and the
simulator served by live_server.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging.models import Message, Status
from apps.messaging.services.send import message_send
from apps.messaging.sending import INTERRUPTED_TITLE
from apps.messaging.tasks import send_message
from apps.simulator.models import SimulatedMessage, SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.inbound.models import WebhookEvent
from apps.inbound.services import webhook_events_drain

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]


def send(conversation, body):
    return message_send(conversation=conversation, author=None, author_type="agent", kind="text", payload={"body": body})


def wait_for(predicate, timeout=90.0, what="the condition"):
    """Poll until `predicate()` is true; the timeout only ends a hung test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _database_url(db, auth):
    """The test database's URL: on a TCP host, or on a unix socket's directory (OPTIONS host)."""
    socket_dir = db.get("OPTIONS", {}).get("host")
    if not db["HOST"] and socket_dir:
        return f"postgres://{auth}@/{db['NAME']}?host={quote(socket_dir)}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """A real `celery worker` process on the outbound queue, on the test database."""

    def __init__(self, tmp_path, name, live_server_url, *, threads=4, wait=True, **env):
        db = connection.settings_dict
        auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        self.log_path = tmp_path / f"{name}.log"
        self.log = open(self.log_path, "wb")
        environment = {
            **os.environ,
            "DATABASE_URL": _database_url(db, auth),
            "DB_CONN_MAX_AGE": "0",
            "SECRET_KEY": django_settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": ",".join(django_settings.FIELD_ENCRYPTION_KEYS),
            "GRAPH_API_BASE": f"{live_server_url}/simulator/graph",
            "SEND_RETRY_BASE_DELAY": "0",
            **{key: str(value) for key, value in env.items()},
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "outbound", "--pool", "threads",
             "--concurrency", str(threads), "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.name = name
        if wait:
            self.wait_ready()

    def wait_ready(self):
        wait_for(lambda: b" ready." in self.log_path.read_bytes() or self.proc.poll() is not None,
                 what=f"worker {self.name} to start")
        assert self.proc.poll() is None, self.log_path.read_text()

    def succeeded(self) -> int:
        return self.log_path.read_text().count("succeeded in")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def workers(tmp_path, simulator, settings, real_broker):  # noqa: F811
    import redis

    # The broker's outbound queue starts empty: nothing left by an earlier test.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("outbound", "unacked", "unacked_index")
    started = []

    def start(name, **env):
        worker = Worker(tmp_path, name, simulator.url, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_a_worker_killed_during_the_call_does_not_send_twice(workers, settings, simulator):  # noqa: F811
    """kill -9 the worker while Meta holds the request (accepted, answer not back
    yet): another worker gets the task again (acks_late, visibility timeout),
    does not resend, and marks the message interrupted for the agent, until Meta's
    statuses, which echo our id, settle it."""
    # Long enough to kill the worker before the answer, short enough to be over
    # before the test ends (the simulator's request holds rows until then). The
    # simulator's statuses reach our webhook, and wait there: no inbound worker runs.
    inject(latency_ms=8_000, send_status_webhooks=True, status_delay=0)
    settings.SIMULATOR_WEBHOOK_URL = f"{simulator.url}/webhooks/whatsapp/"
    conversation = ConversationFactory()
    # The first worker waits long enough for the answer to be still on its way.
    first = workers("first", GRAPH_API_TIMEOUT=60, CELERY_VISIBILITY_TIMEOUT=2)
    message = send(conversation, "Killed mid-call")
    wait_for(lambda: SimulatedMessage.objects.filter(payload__text__body="Killed mid-call").exists(),
             what="the simulator to receive the request")
    claimed = Message.objects.get(pk=message.pk)
    assert (claimed.status, claimed.send_attempts, claimed.wamid) == (Status.PENDING, 1, None)
    assert claimed.send_started_at is not None  # the attempt was recorded before the call
    first.kill()

    # The second worker's short timeout makes the claim expire soon (claim_expiry()).
    second = workers("second", GRAPH_API_TIMEOUT=1, CELERY_VISIBILITY_TIMEOUT=2)
    message = wait_for(
        lambda: Message.objects.filter(pk=message.pk).exclude(status=Status.PENDING).first(),
        what="the redelivered task to settle the message",
    )
    assert (message.status, message.error_title) == (Status.FAILED, INTERRUPTED_TITLE)
    assert "may or may not have been delivered" in message.error_message
    assert message.send_attempts == 1
    assert SimulatedMessage.objects.filter(payload__text__body="Killed mid-call").count() == 1
    # The second worker did run the task again (redelivered), and it sent nothing.
    # (Celery logs the task's end just after the task's own commit: wait for the line.)
    wait_for(lambda: second.succeeded() >= 1, what="the second worker to log the task's end")
    assert SimulatedRequest.objects.filter(path__endswith="/messages").count() == 1
    # Meta's statuses (sent, delivered, read) settle it: it takes its wamid and "read".
    wait_for(lambda: WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).count() == 3,
             what="the simulator's statuses")
    assert webhook_events_drain() == 3
    message.refresh_from_db()
    accepted = SimulatedMessage.objects.get(payload__text__body="Killed mid-call")
    assert (message.status, message.wamid, message.error_title) == (Status.READ, accepted.wamid, "")


def test_the_rate_limit_holds_across_two_worker_processes(workers):
    """Two worker processes share one number's limit through Redis: the sends are
    spaced 1/rate apart however the tasks are spread between them."""
    inject(latency_ms=0)
    conversation = ConversationFactory()
    number = conversation.number
    number.rate_limit_per_second = 4
    number.save(update_fields=["rate_limit_per_second"])
    # Both start at once (a start is mostly importing Django).
    first = workers("first", threads=4, wait=False)
    second = workers("second", threads=4)
    first.wait_ready()
    texts = [f"Limited {i}" for i in range(12)]
    for text in texts:
        # One customer each: the pair limit is not what is measured here.
        other = ConversationFactory(number=number, organization=number.organization,
                                    contact=ContactFactory(organization=number.organization))
        send(other, text)
    wait_for(lambda: Message.objects.filter(text__in=texts, status=Status.SENT).count() == len(texts),
             what="every message to be sent")
    assert first.succeeded() >= 1 and second.succeeded() >= 1, "both workers sent"
    arrivals = sorted(
        SimulatedRequest.objects.filter(path__endswith=f"/{number.phone_number_id}/messages")
        .values_list("received_at", flat=True)
    )
    assert len(arrivals) == len(texts)
    span = (arrivals[-1] - arrivals[0]).total_seconds()
    # 12 sends at 4/s take 2.75 s when spaced; two processes each with its own
    # bucket would take half that. (A slow machine only makes the span longer.)
    assert span >= 0.8 * (len(texts) - 1) / 4


def test_a_read_timeout_is_marked_interrupted_not_resent(simulator, settings):  # noqa: F811
    """Meta got the request but its answer did not come in time: it may have been
    accepted, so the message is not sent again but shown as interrupted."""
    settings.GRAPH_API_TIMEOUT = 0.5
    inject(latency_ms=1500)
    conversation = ConversationFactory()
    message = send(conversation, "Slow answer")
    message.refresh_from_db()
    assert (message.status, message.error_title, message.send_attempts) == (Status.FAILED, INTERRUPTED_TITLE, 1)
    assert "may or may not have been delivered" in message.error_message
    assert SimulatedMessage.objects.filter(payload__text__body="Slow answer").count() == 1
    # Running the task again (a duplicate delivery) changes nothing.
    assert send_message(message.pk) == "done"
    assert SimulatedMessage.objects.filter(payload__text__body="Slow answer").count() == 1


def _environment(live_server_url=None):
    """The environment of a process on the test database (as Worker's)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    environment = {
        **os.environ, "DATABASE_URL": _database_url(db, auth), "DB_CONN_MAX_AGE": "0",
        "SECRET_KEY": django_settings.SECRET_KEY, "FIELD_ENCRYPTION_KEY": ",".join(django_settings.FIELD_ENCRYPTION_KEYS),
    }
    if live_server_url:
        environment["GRAPH_API_BASE"] = f"{live_server_url}/simulator/graph"
    return environment


@pytest.fixture
def beat(tmp_path, workers):
    """`celery beat` with the send sweep every second (the other entries go to queues
    no worker of these tests consumes)."""
    log = open(tmp_path / "beat.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-s", str(tmp_path / "beat-schedule"), "-l", "INFO"],
        cwd=ROOT, env={**_environment(), "SEND_SWEEP_SECONDS": "1"}, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def many(number, count, tag):
    """`count` messages of `number`, each to a customer of its own (the pair limit is
    not what is measured)."""
    texts = [f"{tag} {i}" for i in range(count)]
    for text in texts:
        conversation = ConversationFactory(number=number, organization=number.organization,
                                           contact=ContactFactory(organization=number.organization))
        send(conversation, text)
    return texts


def test_a_killed_send_workers_sending_is_taken_over_by_the_next_without_the_broker(workers, beat, settings):
    """kill -9 the send worker mid-burst: its tasks stay with the broker until its
    visibility timeout (2 h here), yet the next worker sends the rest: the sweep found
    the number's chain of batch tasks dead and queued its batch task again."""
    import redis

    inject(latency_ms=200)
    number = ConversationFactory().number
    number.rate_limit_per_second = 10
    number.save(update_fields=["rate_limit_per_second"])
    first = workers("first", GRAPH_API_TIMEOUT=1)
    texts = many(number, 40, "Taken over")
    wait_for(lambda: Message.objects.filter(text__in=texts, status=Status.SENT).count() >= 5,
             what="the first worker to send")
    first.kill()
    # What the first worker held at its death: its claims (calls maybe made) and its tasks.
    claimed = set(Message.objects.filter(text__in=texts, status=Status.PENDING, send_started_at__isnull=False)
                  .values_list("pk", flat=True))
    held = redis.Redis.from_url(settings.CELERY_BROKER_URL).hlen("unacked")
    assert held >= 1
    second = workers("second", GRAPH_API_TIMEOUT=1)
    wait_for(lambda: not Message.objects.filter(text__in=texts, status=Status.PENDING).exists(),
             timeout=180, what="every message to be settled")
    rest = Message.objects.filter(text__in=texts).exclude(pk__in=claimed)
    assert set(rest.values_list("status", flat=True)) == {Status.SENT}  # none lost, none waits
    log = second.log_path.read_text()
    # The sweep took it over: by queueing the dead chain's batch task again, or by
    # queueing the task of a claim the dead worker held, which sends the number's others
    # with it; which comes first depends on the machine's load.
    assert (f"number {number.pk}: its messages wait and no send task runs for it" in log
            or "messaging.send_message" in log)
    assert "messaging.send_pending" in log or "messaging.send_message" in log
    # The first worker's tasks were not what resumed the sending: still with the broker.
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).hlen("unacked") >= held
    accepted = list(SimulatedMessage.objects.filter(payload__text__body__in=texts)
                    .values_list("payload__text__body", flat=True))
    assert len(accepted) == len(set(accepted))  # none sent twice


@pytest.fixture
def served_simulator(tmp_path, settings):
    """The simulator served by `manage.py simulator_serve` in a process of its own (as
    in load tests), which logs each request's arrival when its loop read it."""
    import socket

    from apps.simulator.models import SimulatorConfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    SimulatorConfig.objects.update_or_create(pk=1, defaults={
        "send_status_webhooks": False, "status_delay": 0, "fail_code": None, "fail_count": 0, "error_5xx_rate": 0,
        "error_429_rate": 0, "latency_ms": 200})
    log = open(tmp_path / "simulator.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulator_serve", "--bind", f"127.0.0.1:{port}", "--processes", "1",
         "--threads", "4"],
        cwd=ROOT, env={**_environment(), "SIMULATOR_ENABLED": "true", "SIMULATOR_CACHE_SECONDS": "0"},
        stdout=log, stderr=subprocess.STDOUT,
    )

    def listening():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return process.poll() is not None

    wait_for(listening, what="the simulator to listen")
    assert process.poll() is None, (tmp_path / "simulator.log").read_text()
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


def busiest_second(times: list[float], *, stamping: float = 0.0) -> int:
    """The most requests in any sliding one-second window, less `stamping`: the peer's
    own error in stamping an arrival (its loop reads a request late when it is busy,
    which moves that stamp closer to the next)."""
    import bisect

    return max((bisect.bisect_right(times, t + 1.0 - stamping) - i for i, t in enumerate(times)), default=0)


def test_a_send_worker_restarted_mid_second_keeps_every_second_within_the_limit(
        tmp_path, served_simulator, real_broker, settings):
    """The number's slots live in Redis, shared by every process: a worker killed
    mid-burst and a new, cold one (its connections to open) never put more than the
    number's rate into any sliding second, as the peer receives them."""
    import redis

    from apps.messaging.sending import kick, ratelimit

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("outbound", "unacked", "unacked_index")
    ratelimit.reset()
    number = ConversationFactory().number
    number.rate_limit_per_second = 20
    number.save(update_fields=["rate_limit_per_second"])
    started = []

    def worker(name):
        started.append(Worker(tmp_path, name, served_simulator, threads=8, GRAPH_API_TIMEOUT=1))
        return started[-1]

    try:
        first = worker("first")
        texts = many(number, 100, "Restarted")
        wait_for(lambda: SimulatedRequest.objects.filter(path__endswith="/messages").count() >= 20,
                 what="the first worker to send for a while")
        first.kill()
        killed = time.time()
        # Messages the second worker alone can send, however far the first got before
        # this (busy) process saw its count and killed it.
        texts += many(number, 30, "After the restart")
        worker("second")
        kick.kick(number.pk, force=True)  # as the sweep does for a dead chain
        wait_for(lambda: not Message.objects.filter(text__in=texts, status=Status.PENDING,
                                                    send_started_at__isnull=True).exists(),
                 timeout=180, what="the second worker to send the rest")
    finally:
        for running in started:
            running.stop()
    arrivals = sorted(t.timestamp() for t in SimulatedRequest.objects.filter(
        path__endswith=f"/{number.phone_number_id}/messages").values_list("received_at", flat=True))
    # Enough calls on both sides of the restart to judge it: the second worker's first
    # two batches (kick.BATCH_SIZE each) at least, its first reservation cold. (The
    # first worker's last claims stay held: no sweep runs here.)
    assert len([t for t in arrivals if t < killed]) >= 20
    assert len([t for t in arrivals if t > killed]) > kick.BATCH_SIZE
    # The simulator stamps an arrival when its loop reads it: on a loaded machine (CI runs
    # two test workers beside it) a stamp can be late by tens of milliseconds, which no
    # pacing can make up for. 50 ms is that error, not a margin for the sender: its slots
    # are 1/(0.96 x rate) apart (sending/ratelimit.py), 20 of them span 1.04 s.
    assert busiest_second(arrivals, stamping=0.05) <= number.rate_limit_per_second


def test_a_killed_send_workers_claims_are_settled_at_once_not_at_their_expiry(workers, beat, settings):
    """kill -9 the send worker while it holds claims, some with their call under way
    and some not yet: the next worker's sweep sees their holder dead (it stopped
    beating) and settles them without waiting for their expiry (here half an hour:
    GRAPH_API_TIMEOUT 600 s): the calls not started are given back and sent once, the
    started ones marked interrupted (no statuses come: nobody can know). Nothing is
    sent twice."""
    inject(latency_ms=2000)
    number = ConversationFactory().number
    number.rate_limit_per_second = 10
    number.save(update_fields=["rate_limit_per_second"])
    first = workers("first", GRAPH_API_TIMEOUT=600)
    texts = many(number, 40, "Held")
    held = Message.objects.filter(text__in=texts, status=Status.PENDING, wamid__isnull=True,
                                  send_started_at__isnull=False)
    wait_for(lambda: held.filter(call_started_at__isnull=False).count() >= 3, what="calls under way")
    first.kill()
    started = set(held.filter(call_started_at__isnull=False).values_list("pk", flat=True))
    unstarted = set(held.filter(call_started_at__isnull=True).values_list("pk", flat=True))
    second = workers("second", GRAPH_API_TIMEOUT=600)
    wait_for(lambda: not Message.objects.filter(text__in=texts, status=Status.PENDING).exists(),
             timeout=180, what="every message to be settled")
    interrupted = Message.objects.filter(pk__in=started)
    assert {(m.status, m.error_title) for m in interrupted} == {(Status.FAILED, INTERRUPTED_TITLE)}
    assert set(Message.objects.filter(text__in=texts).exclude(pk__in=started)
               .values_list("status", flat=True)) == {Status.SENT}  # the unstarted ones too
    assert "whose call had started marked interrupted" in second.log_path.read_text()
    accepted = list(SimulatedMessage.objects.filter(payload__text__body__in=texts)
                    .values_list("payload__text__body", flat=True))
    assert len(accepted) == len(set(accepted))  # none sent twice
    assert not (set(Message.objects.filter(pk__in=unstarted).values_list("text", flat=True)) - set(accepted))
