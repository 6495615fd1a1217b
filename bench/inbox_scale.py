#!/usr/bin/env python
"""Inbox scale benchmark (issue #7).

Seeds PostgreSQL (its own database, inbox_scale) with 100,000 conversations and
1,000,000 messages across 50 agents (generate_series SQL, a minute or two), then
measures in one run:

1. p50/p95 and queries of the first page of each conversation-list view, a thread
   page (newest, then keyset "before"), and search, through the inbox selectors
   (apps.messaging.selectors.search and .thread), and of every whole page an agent
   loads (list, search, next rows, conversation, older messages, the side panels),
   as an agent and as a supervisor, through the views (Django test client);
2. with the real channel layer on Redis, daphne serving config.asgi, gunicorn serving
   config.wsgi (config/gunicorn.conf.py) and a Celery inbound worker: the time from a signed webhook POST to the message.created
   frame at the assignee's websocket, at a constant inbound rate with 50 agents
   connected, split into POST -> stored (queue + processing) and stored -> browser;
3. 200 agents connected to one daphne process, each receiving one event per second
   published through apps.realtime.publish.publish(), as the product's workers do:
   the events due in each 50 ms tick are published in one transaction.

The websocket clients run in two client processes of their own (each its own event
loop, timestamping frames as they arrive), so that the load generator is not what is
measured; daphne's CPU time per delivered frame (from /proc) is printed with each live
run, and "CPU p50" with each read (process time of this process): figures that the
shared machine's load inflates much less than wall time. --py-spy records daphne's
stacks during the fan-out (collapsed, in the log directory).

Usage: python bench/inbox_scale.py [--quick] [--reuse-seed] [--no-reads] [--only-fan-out | --no-fan-out] [--py-spy]
The inbound worker runs INBOUND_CONCURRENCY processes (default 2) of pool INBOUND_POOL (default prefork).
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379, or, with
INBOX_SCALE_EMBEDDED=1, starts the project's embedded servers of its own under
var/bench (apps.core.servers; INBOX_SCALE_VAR names another directory, to measure two
trees on one seed), so that no one else's run shares its database.
INBOX_SCALE_DB names the database (default inbox_scale).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
BIN = Path(PY).parent
SECRET = "bench-scale-secret"
PHONE_NUMBER_ID = "990000000000077"
DB_NAME = os.environ.get("INBOX_SCALE_DB") or os.environ.get("SCALE_DB_NAME", "inbox_scale")
REDIS_DB, BROKER_DB = 14, 15


def _servers() -> tuple[str, str]:
    """The PostgreSQL server's URL (database `postgres`) and the Redis server's (no
    database): the machine's, or with INBOX_SCALE_EMBEDDED=1 embedded ones in var/bench."""
    if os.environ.get("INBOX_SCALE_EMBEDDED") != "1":
        return "postgresql://postgres@127.0.0.1:5432/postgres", "redis://127.0.0.1:6379"
    from apps.core import servers

    root = Path(os.environ.get("INBOX_SCALE_VAR") or ROOT / "var" / "bench")
    return servers.ensure("postgres", root=root)["url"], servers.redis_db_url(
        servers.ensure("valkey", root=root)["url"], 0).rsplit("/", 1)[0]


def _database(url: str, name: str) -> str:
    """`url` naming database `name` (a query string, such as a socket's host, is kept)."""
    base, sep, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + sep + query


POSTGRES_URL, REDIS_SERVER = _servers()
ENV = {
    **os.environ,
    "DATABASE_URL": _database(POSTGRES_URL, DB_NAME),
    "REDIS_URL": f"{REDIS_SERVER}/{REDIS_DB}",
    "CELERY_BROKER_URL": f"{REDIS_SERVER}/{BROKER_DB}",
    "SECRET_KEY": "bench-secret-key-" + "x" * 40,
    "FIELD_ENCRYPTION_KEY": "bXktYmVuY2gta2V5LW15LWJlbmNoLWtleS0xMjM0NTY=",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "META_APP_SECRET": SECRET,
    "GRAPH_API_BASE": "http://127.0.0.1:9/unused",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
os.environ.update(ENV)

TARGETS = {"list_p95_ms": 50, "list_queries": 5, "thread_p95_ms": 30, "search_p95_ms": 200,
           "live_p95_ms": 100, "live_p99_ms": 1000, "page_p95_ms": 100, "page_queries": 12}
WORDS = ["hello", "order", "refund", "delivery", "invoice", "thanks", "where", "package", "tomorrow", "price",
         "discount", "address", "payment", "pix", "boleto", "cancel", "exchange", "size", "color", "urgent"]
NAMES = ["Maria", "João", "Ana", "Pedro", "Lucas", "Julia", "Carla", "Rafael", "Beatriz", "Gabriel"]


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: " + Path(LOG_DIR / f"{name}.log").read_text()[-2000:])
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not start")


# --- seed ---------------------------------------------------------------------------

def seed(conversations: int, messages_per: int, agents: int, extra_agents: int) -> None:
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True)
    import django

    django.setup()
    from apps.accounts.models import Organization, Team, User
    from apps.conversations.models import Label
    from apps.whatsapp.models import WhatsAppNumber

    org = Organization.objects.create(name="Scale", slug="scale")
    number = WhatsAppNumber.objects.create(
        organization=org, phone_number_id=PHONE_NUMBER_ID, waba_id="990000000000078",
        display_phone_number="15550002222", app_secret=SECRET, access_token="bench-token",
    )
    teams = [Team.objects.create(organization=org, name=f"Team {i}") for i in range(5)]
    for team in teams:
        team.numbers.add(number)
    users = []
    for i in range(agents + extra_agents):
        users.append(User(organization=org, username=f"agent{i}", role=User.Role.AGENT, password="!"))
    users += [User(organization=org, username=f"supervisor{i}", role=User.Role.SUPERVISOR, password="!")
              for i in range(2)]
    User.objects.bulk_create(users)
    agent_ids = list(User.objects.filter(organization=org, role="agent").order_by("id").values_list("id", flat=True))
    for i, uid in enumerate(agent_ids):
        teams[i % 5].members.add(uid)
    for i in range(20):
        Label.objects.create(organization=org, name=f"label-{i}", color="#336699")
    first_agent, team_ids = agent_ids[0], [t.id for t in teams]
    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    names = "ARRAY[" + ",".join(f"'{n}'" for n in NAMES) + "]"
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"""
            INSERT INTO conversations_contact (organization_id, wa_id, user_id, parent_user_id, username, phone,
                profile_name, name, opted_out, opt_out_reason, marketing_opted_out, attributes, created_at, updated_at)
            SELECT %s, '55119' || lpad(g::text, 8, '0'), '', '', '', '+55119' || lpad(g::text, 8, '0'),
                   ({names})[1 + g %% 10] || ' ' || g, '', false, '', false, '{{}}', now(), now()
            FROM generate_series(1, %s) g""", [org.id, conversations])
        # 30% open, 10% pending, 60% resolved; 80% of the active ones assigned to one of
        # the 50 agents, the rest unassigned (routed to a team, or to the number).
        cur.execute(f"""
            INSERT INTO conversations_conversation (organization_id, contact_id, number_id, status, assignee_id,
                team_id, priority, unread_count, last_message_at, last_message_preview, last_customer_message_at,
                bot_active, created_at, updated_at)
            SELECT %s, c.id, %s,
                   CASE WHEN c.id %% 10 < 3 THEN 'open' WHEN c.id %% 10 = 3 THEN 'pending' ELSE 'resolved' END,
                   CASE WHEN c.id %% 10 <= 3 AND (c.id / 10) %% 5 = 4 THEN NULL ELSE %s + abs(hashtext(c.id::text)) %% %s END,
                   CASE WHEN c.id %% 10 <= 3 AND (c.id / 10) %% 5 = 4 AND (c.id / 10) %% 2 = 0 THEN NULL
                        ELSE (%s::bigint[])[1 + c.id %% 5] END,
                   c.id %% 3, c.id %% 4, now() - (c.id || ' minutes')::interval,
                   'Hello, ' || ({words})[1 + c.id %% 20] || ' ' || ({words})[1 + (c.id / 7) %% 20],
                   now() - (c.id || ' minutes')::interval, false, now() - (c.id || ' minutes')::interval, now()
            FROM conversations_contact c WHERE c.organization_id = %s""",
                    [org.id, number.id, first_agent, agents, team_ids, org.id])
        cur.execute("""
            INSERT INTO conversations_conversation_labels (conversation_id, label_id)
            SELECT id, (SELECT min(id) FROM conversations_label) + id % 20 FROM conversations_conversation
            WHERE id % 10 = 0""")
        cur.execute(f"""
            INSERT INTO messaging_message (organization_id, conversation_id, number_id, wamid, direction,
                author_type, type, content, text, reply_to_wamid, forwarded, frequently_forwarded, status,
                timestamp, created_at, edit_history, error_title, error_message, error_details, send_attempts,
                idempotency_key, imported, pricing_category, pricing_model, pricing_type)
            SELECT v.org, v.cid, v.num, 'wamid.SEED.' || v.cid || '.' || k,
                   CASE WHEN k %% 2 = 0 THEN 'in' ELSE 'out' END,
                   CASE WHEN k %% 2 = 0 THEN 'customer' ELSE 'agent' END,
                   'text', jsonb_build_object('body', v.body), v.body, '', false, false,
                   CASE WHEN k %% 2 = 0 THEN 'received' ELSE 'read' END,
                   v.at - ((%s - k) || ' seconds')::interval, v.at, '[]', '', '', '', 0, '', false, '', '', ''
            FROM (SELECT c.id AS cid, c.organization_id AS org, c.number_id AS num, c.last_message_at AS at,
                         'Hello, ' || ({words})[1 + c.id %% 20] || ' ' || ({words})[1 + (c.id / 3) %% 20]
                         || ' number ' || c.id AS body
                  FROM conversations_conversation c) v
            CROSS JOIN generate_series(1, %s) k""", [messages_per, messages_per])
    # As autovacuum leaves tables at rest: statistics, and the visibility map that lets
    # a count be answered from an index alone (VACUUM cannot run in a transaction).
    with psycopg.connect(_database(POSTGRES_URL, DB_NAME), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"seeded {conversations:,} conversations, {conversations * messages_per:,} messages, "
          f"{agents} agents (+{extra_agents} for the connection test) in {time.perf_counter() - t0:.0f} s")


# --- reads ---------------------------------------------------------------------------

def timed(fn, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, sql, cpu = [], [], [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        queries.append(len(ctx.captured_queries))
        # Time inside the database driver (query sent -> rows fetched), the rest is Python.
        sql.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
    return {"p50": pct(times, 50), "p95": pct(times, 95), "queries": max(queries), "sql_p50": pct(sql, 50),
            "cpu_p50": pct(cpu, 50)}


def measure_reads(runs: int) -> dict:
    import random

    import django

    django.setup()
    from apps.accounts.models import User
    from apps.conversations import selectors
    from apps.conversations.models import Conversation, Label
    from apps.messaging.models import Message

    # The search and the thread are messaging's selectors; a tree from before that move
    # had them in conversations' (so the same bench measures both).
    try:
        from apps.messaging.selectors import search as search_selectors
        from apps.messaging.selectors import thread as thread_selectors
    except ImportError:
        search_selectors = thread_selectors = selectors

    agent = User.objects.get(username="agent0")
    supervisor = User.objects.get(username="supervisor0")
    label = Label.objects.order_by("id").first()
    results = {}

    def page(user, **kw):
        filters = selectors.InboxFilter(**kw)
        result = search_selectors.conversation_inbox_page(user=user, filters=filters)
        for c in result.conversations:  # what a row shows: preview, unread, contact, labels
            # (the ids of its labels, named from the organisation's, where rows carry them)
            labels = c.label_ids if hasattr(c, "label_ids") else [lb.name for lb in c.labels.all()]
            (c.last_message_preview, c.unread_count, c.contact.name, labels)
        return result

    views = {
        "mine (agent)": (agent, {"view": "mine"}),
        "unassigned (agent)": (agent, {"view": "unassigned"}),
        "all (agent)": (agent, {"view": "all"}),
        "all (supervisor)": (supervisor, {"view": "all"}),
        "resolved (supervisor)": (supervisor, {"view": "all", "status": "resolved"}),
        "per number (supervisor)": (supervisor, {"view": "all", "number_id": Conversation.objects.first().number_id}),
        "per label (supervisor)": (supervisor, {"view": "all", "label_id": label.id}),
    }
    for name, (user, kw) in views.items():
        results[f"list: {name}"] = timed(lambda u=user, k=kw: page(u, **k), runs)
    ids = list(Conversation.objects.filter(status="open").values_list("id", flat=True)[:2000])

    def thread(before=False):
        conversation = selectors.conversation_get(user=supervisor, pk=random.choice(ids))
        first = thread_selectors.thread_page(conversation=conversation)
        if before and first.before:
            return thread_selectors.thread_page(conversation=conversation, before=first.before)
        return first

    results["thread: newest page"] = timed(thread, runs)
    results["thread: newest + older (keyset)"] = timed(lambda: thread(before=True), runs)
    for q in ("refund", "Maria 12", "5511900012"):
        results[f"search: {q!r} (supervisor)"] = timed(lambda q=q: page(supervisor, view="all", status="any", q=q),
                                                       max(5, runs // 3))
    results["search: 'refund' (agent)"] = timed(lambda: page(agent, view="all", status="any", q="refund"),
                                                max(5, runs // 3))
    # The whole pages an agent loads, rendered by the views (templates, middleware and
    # session included): the list, the search, the next rows, a conversation, its older
    # messages and its two side panels, each as an agent and as a supervisor.
    from django.test import Client
    from django.test.utils import override_settings

    mine = list(Conversation.objects.filter(status="open", assignee=agent).values_list("id", flat=True)[:500])
    page_runs = max(5, runs // 3)
    with override_settings(STORAGES={**django.conf.settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}, SECURE_SSL_REDIRECT=False):
        for who, user, pool in (("agent", agent, mine), ("supervisor", supervisor, ids)):
            client = Client()
            client.force_login(user)
            # The messages older than the newest (the seed's threads fit one page).
            newest = Message.objects.filter(conversation_id=pool[0]).order_by("-timestamp", "-id").first()
            older = f"/inbox/c/{pool[0]}/messages/?before={thread_selectors.cursor_encode(newest)}"
            after = search_selectors.conversation_inbox_page(user=user, filters=selectors.InboxFilter(view="all")).after
            urls = {
                "list page": lambda: "/inbox/?view=all",
                "search page": lambda: "/inbox/?view=all&q=refund",
                "next rows": lambda after=after: f"/inbox/rows/?view=all&after={after}",
                "conversation page": lambda pool=pool: f"/inbox/c/{random.choice(pool)}/",
                "older messages": lambda older=older: older,
                "actions panel": lambda pool=pool: f"/inbox/c/{random.choice(pool)}/panel/actions/",
                "contact panel": lambda pool=pool: f"/inbox/c/{random.choice(pool)}/panel/contact/",
            }
            for name, url in urls.items():
                def get(url=url, client=client):
                    response = client.get(url())
                    assert response.status_code == 200, (url(), response.status_code)
                results[f"page: {name} ({who})"] = timed(get, page_runs)
    return results


# --- live ----------------------------------------------------------------------------

LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", "/tmp/inbox_scale_logs"))


def start(cmd, name, port=None, **kw):
    """Start a server; its output goes to LOG_DIR/<name>.log (a pipe nobody reads would
    fill up and stall the server)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, **kw)
    proc.log_path = LOG_DIR / f"{name}.log"
    if port:
        wait_port(port, proc, name)
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def session_cookies(usernames) -> dict[str, str]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from apps.accounts.models import User

    cookies = {}
    for user in User.objects.filter(username__in=usernames):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies[user.username] = f"{settings.SESSION_COOKIE_NAME}={store.session_key}"
    return cookies


class Sockets:
    """Websocket clients; each records when every frame arrives."""

    def __init__(self, port, cookies: dict[str, str]):
        self.port, self.cookies = port, cookies
        self.arrivals: dict[str, list[tuple[float, dict]]] = {name: [] for name in cookies}
        self.tasks, self.ready, self.retries, self.connect_seconds = [], 0, 0, 0.0
        self.last_id: dict[str, str] = {}
        self.readied: set[str] = set()

    async def _client(self, name):
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosedError, InvalidMessage, InvalidStatus

        for attempt in range(5):  # as live.js does: reconnect, then catch up from the last id
            try:
                await self._session(connect, name)
                return
            except (InvalidMessage, InvalidStatus, ConnectionClosedError, OSError):
                self.retries += 1
                await asyncio.sleep(1 + attempt)

    async def _session(self, connect, name):
        async with connect(f"ws://127.0.0.1:{self.port}/ws/inbox/", origin=f"http://127.0.0.1:{self.port}",
                           additional_headers={"Cookie": self.cookies[name]}, max_queue=None,
                           open_timeout=60) as ws:
            await ws.send(json.dumps({"action": "catch_up", "since": self.last_id.get(name)}))
            async for raw in ws:
                frame = json.loads(raw)
                if frame["event"] == "catch_up.done" and name not in self.readied:
                    self.readied.add(name)
                    self.ready += 1
                if frame.get("id"):
                    self.last_id[name] = frame["id"]
                self.arrivals[name].append((time.time(), frame))

    async def open(self, batch=25):
        """Connect in batches, as browsers reconnecting with jittered backoff do: daphne
        drops a handshake the application has not accepted within 5 s."""
        started = time.time()
        for i, name in enumerate(self.cookies):
            self.tasks.append(asyncio.create_task(self._client(name)))
            if i % batch == batch - 1:
                while self.ready < i + 1 and time.time() < started + 120:
                    await asyncio.sleep(0.05)
        deadline = time.time() + 120
        while self.ready < len(self.cookies):
            failed = [t for t in self.tasks if t.done()]
            if failed:
                failed[0].result()
            if time.time() > deadline:
                raise RuntimeError(f"only {self.ready} of {len(self.cookies)} sockets ready")
            await asyncio.sleep(0.1)
        self.connect_seconds = time.time() - started

    async def close(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _published_at(frame_id) -> float | None:
    """When the event was published: its id is the replay log's Redis stream id,
    "<Redis time in ms>-<seq>", taken by publish() as it sends the event."""
    try:
        return int(str(frame_id).split("-")[0]) / 1000
    except ValueError:
        return None


def _compact(frame: dict) -> tuple:
    """What the tallies need of a frame: (event, wamid, bench_n, bench_sent, published)."""
    data = frame.get("data") or {}
    return (frame["event"], data.get("wamid"), data.get("bench_n"), data.get("bench_sent"),
            _published_at(frame.get("id")))


def _fleet_child(port, cookies, conn) -> None:
    """One client process: open its sockets when told, then hand over what arrived
    (compacted) each time it is asked, until told to stop."""

    async def serve():
        sockets = Sockets(port, cookies)
        loop = asyncio.get_running_loop()
        sent_upto = {name: 0 for name in cookies}
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "open":
                try:
                    await sockets.open()
                    conn.send(("ready", sockets.connect_seconds, sockets.retries))
                except Exception as error:  # noqa: BLE001 - reported to the parent
                    conn.send(("error", repr(error)))
            elif command in ("poll", "stop"):
                if command == "stop":
                    await sockets.close()
                out = []
                for name, frames in sockets.arrivals.items():
                    new = frames[sent_upto[name]:]
                    sent_upto[name] = len(frames)
                    out += [(name, at, *_compact(frame)) for at, frame in new]
                conn.send(("arrivals", out, sockets.retries))
                if command == "stop":
                    return

    asyncio.run(serve())


class Fleet:
    """Websocket clients spread over `processes` client processes (forked before they
    connect), so that the load generator is not the bottleneck being measured: each
    process runs its share of the sockets on its own event loop and timestamps every
    frame as it arrives. Arrivals are (name, at, event, wamid, bench_n, bench_sent,
    published)."""

    def __init__(self, port, cookies: dict[str, str], processes: int = 2):
        import multiprocessing

        from django.db import connections

        connections.close_all()  # a forked child must not share the parent's socket
        ctx = multiprocessing.get_context("fork")
        names = list(cookies)
        self.pipes, self.procs = [], []
        for k in range(processes):
            share = {name: cookies[name] for name in names[k::processes]}
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_fleet_child, args=(port, share, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.connected = len(cookies)
        self.arrivals: list[tuple] = []
        self.connect_seconds, self.retries = 0.0, 0

    def open(self) -> None:
        """Connect each process's sockets in turn (daphne drops a handshake it has not
        accepted within 5 s; browsers reconnect with jittered backoff)."""
        started = time.time()
        for pipe in self.pipes:
            pipe.send("open")
            reply = pipe.recv()
            if reply[0] != "ready":
                raise RuntimeError(f"sockets did not connect: {reply[1]}")
        self.connect_seconds = time.time() - started

    def poll(self, command="poll") -> list[tuple]:
        new, retries = [], 0
        for pipe in self.pipes:
            pipe.send(command)
            _, got, proc_retries = pipe.recv()
            new += got
            retries += proc_retries
        self.retries = retries
        self.arrivals += new
        return new

    def close(self) -> None:
        self.poll("stop")
        for proc in self.procs:
            proc.join(timeout=30)


class CpuMeter:
    """CPU seconds (user + system) a process used between start() and stop(), from
    /proc: a figure the machine's load inflates far less than wall time."""

    def __init__(self, pid: int):
        self.pid, self.used = pid, 0.0

    def _now(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self):
        self._start = self._now()
        return self

    def stop(self) -> float:
        self.used = self._now() - self._start
        return self.used


async def post_at_rate(port, bodies, rate, connections=16):
    """POST signed bodies at `rate`/s; returns the send time and the status of each."""
    sent: list[tuple[float, int]] = [None] * len(bodies)
    start = time.perf_counter() + 0.2
    queue: asyncio.Queue = asyncio.Queue()
    for n in range(len(bodies)):
        queue.put_nowait(n)

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not queue.empty():
            n = queue.get_nowait()
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sig, body = bodies[n]
            t = time.time()
            for _ in range(5):
                try:
                    writer.write((f"POST /webhooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                  f"application/json\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {len(body)}"
                                  f"\r\n\r\n").encode() + body)
                    await writer.drain()
                    status = await reader.readline()
                    while status == b"\r\n":
                        status = await reader.readline()
                    if not status:
                        raise ConnectionResetError()
                    length, chunked = 0, False
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                        elif line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                            chunked = True
                    if chunked:
                        while (size := int((await reader.readline()).strip() or b"0", 16)):
                            await reader.readexactly(size + 2)
                        await reader.readline()
                    else:
                        await reader.readexactly(length)
                    parts = status.split()
                    if len(parts) < 2 or not parts[1].isdigit():
                        raise RuntimeError(f"unexpected response line {status!r}")
                    sent[n] = (t, int(parts[1]))
                    break
                except (ConnectionError, asyncio.IncompleteReadError):  # a recycled gunicorn worker
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return sent


def webhook_bodies(targets: list[tuple[str, str]], tag: str) -> list[tuple[str, bytes]]:
    from apps.providers.meta.signature import sign_body

    ts, out = int(time.time()), []
    for n, (wa_id, _agent) in enumerate(targets):
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "990000000000078", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550002222", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Customer"}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "id": f"wamid.{tag}.{n}", "timestamp": str(ts), "type": "text",
                              "text": {"body": f"Where is my order? ({tag} {n})"}}]}}]}]}).encode()
        out.append((sign_body(body, SECRET), body))
    return out


async def live_webhooks(http_port, ws_port, rate, seconds, agents, tag, daphne_pid) -> dict:
    from apps.accounts.models import User
    from apps.conversations.models import Conversation
    from apps.messaging.models import Message

    names = [f"agent{i}" for i in range(agents)]
    cookies = session_cookies(names)
    by_agent = {}
    for name in names:
        user = User.objects.get(username=name)
        by_agent[name] = list(Conversation.objects.filter(assignee=user, status="open")
                              .values_list("contact__wa_id", flat=True)[:200])
    names = [name for name in names if by_agent[name]]
    agents = len(names)
    count = int(rate * seconds)
    targets = [(by_agent[names[n % agents]][(n // agents) % len(by_agent[names[n % agents]])], names[n % agents])
               for n in range(count)]
    bodies = webhook_bodies(targets, tag)
    fleet = Fleet(ws_port, cookies)
    try:
        fleet.open()
        cpu = CpuMeter(daphne_pid).start()
        sent = await post_at_rate(http_port, bodies, rate)
        wanted = {f"wamid.{tag}.{n}": (sent[n][0], targets[n][1]) for n in range(count)}
        deadline = time.time() + max(60, seconds * 6)
        got: dict[str, float] = {}
        published: dict[str, float] = {}
        while time.time() < deadline and len(got) < count:
            await asyncio.sleep(0.5)
            for name, at, event, wamid, _n, _sent, published_at in fleet.poll():
                if event == "message.created" and wamid in wanted and wanted[wamid][1] == name and wamid not in got:
                    got[wamid] = at
                    if published_at is not None:
                        published[wamid] = published_at
        daphne_cpu = cpu.stop()
    finally:
        fleet.close()
    frames = len(fleet.arrivals)
    stored = dict(Message.objects.filter(wamid__startswith=f"wamid.{tag}.").values_list("wamid", "created_at"))
    total = [(got[w] - wanted[w][0]) * 1000 for w in got]
    to_store = [(stored[w].timestamp() - wanted[w][0]) * 1000 for w in got if w in stored]
    to_browser = [(got[w] - stored[w].timestamp()) * 1000 for w in got if w in stored]
    # stored -> browser is the rest of the worker's transaction and its commit (stored ->
    # published), then the channel layer and daphne (published -> browser).
    to_publish = [(published[w] - stored[w].timestamp()) * 1000 for w in published if w in stored]
    delivery = [(got[w] - published[w]) * 1000 for w in published]
    acks = [s[1] for s in sent if s]
    if acks.count(200) != len(acks):
        print(f"  webhook answers: {dict((code, acks.count(code)) for code in set(acks))}")
    return {"rate": rate, "agents": len(cookies), "sent": count, "acked_200": acks.count(200), "stored": len(stored),
            "received": len(got), "p50": pct(total, 50), "p95": pct(total, 95), "p99": pct(total, 99),
            "store_p50": pct(to_store, 50), "store_p95": pct(to_store, 95),
            "browser_p50": pct(to_browser, 50), "browser_p95": pct(to_browser, 95), "browser_p99": pct(to_browser, 99),
            "publish_p50": pct(to_publish, 50), "publish_p95": pct(to_publish, 95),
            "delivery_p50": pct(delivery, 50), "delivery_p95": pct(delivery, 95), "delivery_p99": pct(delivery, 99),
            "frames": frames, "daphne_cpu_ms_per_frame": daphne_cpu * 1000 / max(frames, 1)}


def fan_out(ws_port, agents, seconds, daphne_pid, tick=0.05) -> dict:
    """`agents` sockets on one daphne process, each sent one event per second by
    publish(). The publisher works as the product's workers do: the events due in each
    `tick` are published in one transaction (they leave together on commit)."""
    from django.db import transaction

    from apps.accounts.models import User
    from apps.conversations.models import Conversation
    from apps.conversations.serializers import ConversationSerializer
    from apps.realtime import groups
    from apps.realtime.publish import publish

    names = [f"agent{i}" for i in range(agents)]
    cookies = session_cookies(names)
    ids = dict(User.objects.filter(username__in=names).values_list("username", "id"))
    data = ConversationSerializer(Conversation.objects.select_related("contact", "assignee").first()).data
    fleet = Fleet(ws_port, cookies)
    try:
        fleet.open()
        cpu = CpuMeter(daphne_pid).start()
        total, start, n = agents * seconds, time.time() + 0.2, 0
        while n < total:
            delay = start + n / agents - time.time()
            if delay > 0:
                time.sleep(min(delay, tick))
            due = min(total, int((time.time() - start) * agents) + 1)
            with transaction.atomic():
                for k in range(n, due):
                    publish("conversation.updated", {**data, "bench_n": k, "bench_sent": time.time()},
                            groups=[groups.user(ids[names[k % agents]])])
            n = max(n, due)
        deadline = time.time() + 5
        got = 0
        while time.time() < deadline and got < total:
            time.sleep(0.5)
            fleet.poll()
            got = len({a[4] for a in fleet.arrivals if a[4] is not None})
        daphne_cpu = cpu.stop()
    finally:
        fleet.close()
    first: dict[int, float] = {}  # a reconnect's catch-up may bring an event twice
    for _name, at, _event, _wamid, bench_n, bench_sent, _published in fleet.arrivals:
        if bench_n is not None and bench_n not in first:
            first[bench_n] = (at - bench_sent) * 1000
    latencies = list(first.values())
    return {"agents": fleet.connected, "connect_s": fleet.connect_seconds, "handshake_retries": fleet.retries,
            "events": total, "received": len(latencies),
            "p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
            "daphne_cpu_ms_per_event": daphne_cpu * 1000 / max(len(latencies), 1)}


# The inbound worker's processes (the Procfile's INBOUND_CONCURRENCY). 2 on this 2-core
# machine, as bench/webhook_ingest.py: at 100 messages/s, before the drain was made lean,
# 4 processes gave p95 200 ms (more, smaller batches competing for the cores), 2 gave
# 96-127 ms and 1 gave 103 ms; after it, 1 and 2 give 36-58 ms.
INBOUND_CONCURRENCY = os.environ.get("INBOUND_CONCURRENCY", "2")
INBOUND_POOL = os.environ.get("INBOUND_POOL", "prefork")


def measure_live(quick: bool, agents: int, extra_agents: int, only_fan_out: bool = False,
                 py_spy: bool = False, fan_out_too: bool = True) -> list[tuple[str, dict]]:
    import redis

    for db in (REDIS_DB, BROKER_DB):
        redis.Redis.from_url(f"{REDIS_SERVER}/{db}").flushdb()
    http_port, ws_port = free_port(), free_port()
    daphne = start([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(ws_port), "config.asgi:application"],
                   "daphne", ws_port)
    procs = [daphne]
    if not only_fan_out:
        procs += [
            start([str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{http_port}", "-c",
                   "config/gunicorn.conf.py"], "gunicorn", http_port),
            start([str(BIN / "celery"), "-A", "config", "worker", "-Q", "inbound", "-P", INBOUND_POOL,
                   "-c", INBOUND_CONCURRENCY, "--without-gossip",
                   "--without-mingle", "--without-heartbeat", "-l", "WARNING"], "celery"),
        ]
    out = []
    try:
        time.sleep(3)  # the worker connects to the broker
        seconds = 5 if quick else 20
        if not only_fan_out:
            # Warm-up, not counted: the first requests of each gunicorn worker and the
            # first tasks of each Celery process load code and open connections once
            # per process (a deploy's cold start, not the steady state measured here).
            warm = asyncio.run(live_webhooks(http_port, ws_port, 20, 3, agents, f"WARM{int(time.time())}", daphne.pid))
            print(f"  ... warm-up, not counted: 20/s for 3 s, p50 {warm['p50']:.1f} ms, p99 {warm['p99']:.1f} ms",
                  flush=True)
        for rate in () if only_fan_out else (20, 100):
            figures = asyncio.run(live_webhooks(http_port, ws_port, rate, seconds, agents,
                                                f"LIVE{rate}x{int(time.time())}", daphne.pid))
            figures["load_1min"] = os.getloadavg()[0]
            out.append((f"webhook -> websocket at {rate}/s, {agents} agents", figures))
            print(f"  ... {out[-1][0]}: {figures}", flush=True)
        if not fan_out_too:
            return out
        fan_seconds = 10 if quick else 30
        spy = None
        if py_spy:  # where daphne's time goes during the fan-out (collapsed stacks)
            spy = subprocess.Popen([str(BIN / "py-spy"), "record", "-p", str(daphne.pid), "-r", "200", "-f", "raw",
                                    "-d", str(fan_seconds + 20), "-o", str(LOG_DIR / "daphne-fan-out.txt")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        figures = fan_out(ws_port, agents + extra_agents, fan_seconds, daphne.pid)
        if spy is not None:
            spy.wait()
            print(f"  py-spy profile of daphne: {LOG_DIR / 'daphne-fan-out.txt'}")
        figures["load_1min"] = os.getloadavg()[0]
        out.append((f"fan-out: {agents + extra_agents} agents on one daphne, 1 event/s each", figures))
        for proc in procs:
            if proc.poll() is not None:
                print(f"  {proc.log_path.stem} exited early ({proc.returncode}); see {proc.log_path}")
    finally:
        for proc in procs:
            stop(proc)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 conversations, short live runs (about a minute)")
    parser.add_argument("--reuse-seed", action="store_true", help="measure the database seeded by the last run")
    parser.add_argument("--no-live", action="store_true", help="skip the websocket measurements")
    parser.add_argument("--no-reads", action="store_true", help="skip the list/thread/search measurements")
    parser.add_argument("--only-fan-out", action="store_true", help="of the live runs, only the 200-agent fan-out")
    parser.add_argument("--no-fan-out", action="store_true", help="of the live runs, only the webhook -> websocket ones")
    parser.add_argument("--py-spy", action="store_true",
                        help="record daphne with py-spy during the fan-out (pip install py-spy into the virtualenv)")
    args = parser.parse_args()
    if args.py_spy and not (BIN / "py-spy").exists():
        parser.error(f"--py-spy needs py-spy in {BIN} (pip install py-spy)")
    # This script's own ORM calls between awaits (setup and tallies, never while
    # timing); the servers it starts do not get this variable (ENV was copied before).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    conversations, per, runs = (2_000, 10, 20) if args.quick else (100_000, 10, 50)
    agents, extra = 50, 150
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores")
    if not args.reuse_seed:
        seed(conversations, per, agents, extra)
    import django

    django.setup()
    reads = {} if args.no_reads else measure_reads(runs)
    print(f"\n{'reads':<46}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'SQL p50':>9}{'CPU p50':>9}   target")
    for name, r in reads.items():
        kind = name.split(":")[0]
        target = {"list": f"p95 < {TARGETS['list_p95_ms']} ms, <= {TARGETS['list_queries']} queries",
                  "page": f"p95 < {TARGETS['page_p95_ms']} ms, <= {TARGETS['page_queries']} queries",
                  "thread": f"p95 < {TARGETS['thread_p95_ms']} ms", "search": f"p95 < {TARGETS['search_p95_ms']} ms"
                  }.get(kind, "")
        ok = ""
        if kind == "list":
            ok = "met" if r["p95"] < TARGETS["list_p95_ms"] and r["queries"] <= TARGETS["list_queries"] else "NOT MET"
        elif kind == "page":
            ok = "met" if r["p95"] < TARGETS["page_p95_ms"] and r["queries"] <= TARGETS["page_queries"] else "NOT MET"
        elif kind in ("thread", "search"):
            ok = "met" if r["p95"] < TARGETS[f"{kind}_p95_ms"] else "NOT MET"
        print(f"{name:<46}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['queries']:>9}{r['sql_p50']:>9.1f}{r['cpu_p50']:>9.1f}   {target} {ok}")
    if not args.no_live:
        print(f"\nload before the live runs: {os.getloadavg()[0]:.2f}")
        print("(ms; p* = POST -> frame at the socket; store_* = POST -> message row; browser_* = message row ->"
              " socket, split into publish_* = row -> published (the rest of the worker's transaction, commit,"
              " publish) and delivery_* = published -> socket (channel layer, daphne, client))")
        for name, r in measure_live(args.quick, agents, extra, args.only_fan_out, args.py_spy,
                                     fan_out_too=not args.no_fan_out):
            print(f"\n{name}")
            print("  " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
            if "acked_200" in r:
                ok = r["p95"] < TARGETS["live_p95_ms"] and r["p99"] < TARGETS["live_p99_ms"]
                print(f"  target: p95 < {TARGETS['live_p95_ms']} ms and p99 < {TARGETS['live_p99_ms']} ms: "
                      f"{'met' if ok else 'NOT MET'}; lost: {r['sent'] - r['received']}")
            else:
                print(f"  target: 200 agents on one ASGI process, nothing lost: "
                      f"{'met' if r['agents'] >= 200 and r['received'] == r['events'] else 'NOT MET'}")
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
