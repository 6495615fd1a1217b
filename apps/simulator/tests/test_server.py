"""manage.py simulator_serve's server (apps/simulator/server.py, aiohttp's web server): the product's WSGI
application from an asyncio loop, the simulator's latency held by the loop; and the
settings and numbers a simulator process keeps (SIMULATOR_CACHE_SECONDS)."""

import asyncio
import json
import socket
import struct
import threading
import time

import pytest
import urllib3
from django.core.management import CommandError, call_command

from apps.simulator import rows, webhooks
from apps.simulator.models import SimulatedMessage, SimulatedRequest, SimulatorConfig
from apps.simulator.server import Server
from apps.providers.meta.client import client_for
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.factories import WhatsAppNumberFactory


@pytest.fixture
def served(settings):
    """The product served by the loop server (one thread runs requests) on a free port."""
    from config.wsgi import application

    server = Server(application, "127.0.0.1", 0, threads=1)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    settings.GRAPH_API_BASE = f"http://127.0.0.1:{server.port}/simulator/graph"
    settings.GRAPH_API_TIMEOUT = 10
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"send_status_webhooks": False, "latency_ms": 0})
    yield server
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    server.close()


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


@pytest.mark.django_db(transaction=True)
def test_sends_are_answered_and_stored_before_the_answer_on_kept_alive_connections(served):
    number = WhatsAppNumberFactory()
    client = client_for(number)
    for i in range(3):
        answer = client.send_message({"to": "5511999990000", "type": "text", "text": {"body": f"Hi {i}"}})
        # Stored (committed) before the answer went out.
        assert SimulatedMessage.objects.filter(wamid=answer["messages"][0]["id"]).exists()
    assert SimulatedRequest.objects.filter(status_code=200).count() == 3
    # Meta's errors as the Django server answers them.
    SimulatorConfig.objects.filter(pk=1).update(fail_code=131047, fail_count=1)
    from apps.providers.meta.client import GraphAPIError

    with pytest.raises(GraphAPIError) as caught:
        client.send_message({"to": "5511999990000", "type": "text", "text": {"body": "late"}})
    assert (caught.value.code, caught.value.http_status) == (131047, 400)
    # Any other path of the product too.
    pool = urllib3.PoolManager()
    assert pool.request("GET", f"http://127.0.0.1:{served.port}/healthz").status in (200, 503)
    assert pool.request("GET", f"http://127.0.0.1:{served.port}/accounts/login/").status == 200


@pytest.mark.django_db(transaction=True)
def test_the_latency_holds_no_thread(served):
    # One thread runs requests; the latency is held by the loop: a second call is
    # received while the first still waits for its answer.
    number = WhatsAppNumberFactory()
    SimulatorConfig.objects.filter(pk=1).update(latency_ms=400)
    answered = {}

    def send(i):
        client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": f"slow {i}"}})
        answered[i] = time.time()

    began = time.time()
    calls = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for call in calls:
        call.start()
    for call in calls:
        call.join(30)
    received = sorted(r.timestamp() for r in SimulatedRequest.objects.values_list("received_at", flat=True))
    assert len(received) == 2 and len(answered) == 2
    assert received[1] < min(answered.values())  # both in at once
    assert min(answered.values()) - began >= 0.4  # the answers waited for their latency


@pytest.mark.django_db(transaction=True)
def test_a_request_is_logged_as_arrived_when_the_loop_read_it_not_when_a_thread_was_free(served, monkeypatch):
    """The one thread is busy with the first request when the second arrives: the
    second's arrival (what Meta's rate limits count) is not the moment the thread ran it."""
    number = WhatsAppNumberFactory()
    store_begin = rows.store_begin

    def slow_store(*args, **kwargs):
        time.sleep(0.6)
        return store_begin(*args, **kwargs)

    monkeypatch.setattr(rows, "store_begin", slow_store)
    calls = []
    for i in range(2):
        calls.append(threading.Thread(target=lambda i=i: client_for(number).send_message(
            {"to": "5511999990000", "type": "text", "text": {"body": f"busy {i}"}})))
        calls[-1].start()
        time.sleep(0.05)
    for call in calls:
        call.join(30)
    received = sorted(r.timestamp() for r in SimulatedRequest.objects.values_list("received_at", flat=True))
    assert len(received) == 2
    assert received[1] - received[0] < 0.5  # both read at once; the second ran 0.6 s later


@pytest.mark.django_db(transaction=True)
def test_http_edge_cases(served):
    port = served.port
    # Two pipelined requests on one connection: answered in order.
    two = (b"GET /accounts/login/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
           b"GET /simulator/graph/v23.0/nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    answer = raw_exchange(port, two)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.count(b"HTTP/1.1 ") == 2
    assert b"Connection: close" in answer.rsplit(b"HTTP/1.1 ", 1)[1]
    # HEAD: the headers of the answer, no body (the connection stays in step).
    two_heads = (b"HEAD /accounts/login/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
                 b"HEAD /accounts/login/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    answer = raw_exchange(port, two_heads)
    first, second = answer.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 ") and first.endswith(b"\r\n\r\n") and b"Content-Length: " in first
    assert second.startswith(b"200 ") and second.endswith(b"\r\n\r\n")
    # A chunked request body reaches the application whole; a malformed request line: 400.
    chunked = raw_exchange(port, b"POST /simulator/graph/v23.0/nope/messages HTTP/1.1\r\nHost: localhost\r\n"
                                 b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
                                 b"Authorization: Bearer t\r\nConnection: close\r\n\r\n"
                                 b"5\r\n{\"to\"\r\n6\r\n: \"1\"}\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 400 ")
    assert json.loads(chunked.partition(b"\r\n\r\n")[2])["error"]["code"] == 100  # read whole: no such number
    assert raw_exchange(port, b"NONSENSE\r\n\r\n").split(b" ")[1] == b"400"
    # A body split over several packets.
    body = json.dumps({"messaging_product": "whatsapp", "to": "1", "type": "text", "text": {"body": "a"}}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /simulator/graph/v23.0/nope/messages HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nAuthorization: Bearer t\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
        time.sleep(0.1)
        sock.sendall(body[5:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and json.loads(content)["error"]["code"] == 100  # no such number


@pytest.mark.django_db(transaction=True)
def test_rows_that_cannot_be_stored_make_the_answer_a_500(served, monkeypatch):
    number = WhatsAppNumberFactory()

    class Failed:
        def done(self):
            return True

        def __call__(self):
            raise RuntimeError("the rows could not be stored")

    # Its status webhooks are never sent either: Meta sends none for a message it refused.
    SimulatorConfig.objects.filter(pk=1).update(send_status_webhooks=True)
    posted = []
    monkeypatch.setattr(webhooks, "send_later", lambda bodies, **kw: posted.append([b["entry"][0]["changes"][0][
        "value"]["statuses"][0]["status"] for b in bodies]))

    def send():
        return urllib3.PoolManager(retries=False).request(
            "POST", f"http://127.0.0.1:{served.port}/simulator/graph/v23.0/{number.phone_number_id}/messages",
            body=json.dumps({"messaging_product": "whatsapp", "to": "1", "type": "text", "text": {"body": "a"}}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {number.access_token}"})

    store_begin = rows.store_begin
    monkeypatch.setattr(rows, "store_begin", lambda rows_: Failed())
    assert send().status == 500
    assert posted == []
    monkeypatch.setattr(rows, "store_begin", store_begin)
    assert send().status == 200
    assert posted == [["sent", "delivered", "read"]]


@pytest.mark.django_db(transaction=True)
def test_an_answer_waiting_for_its_rows_holds_no_thread(served, monkeypatch):
    # One thread runs requests: while a send's rows are not stored yet, its answer
    # waits on the loop and the thread serves the next request.
    number = WhatsAppNumberFactory()
    callbacks, finished = [], threading.Event()

    class Slow:
        def done(self):
            return finished.is_set()

        def when_done(self, callback):
            callbacks.append(callback)

        def __call__(self):
            assert finished.is_set()

    monkeypatch.setattr(rows, "store_begin", lambda rows_: Slow())
    answered = []

    def send():
        answered.append(client_for(number).send_message({"to": "1", "type": "text", "text": {"body": "slow rows"}}))

    sending = threading.Thread(target=send)
    sending.start()
    deadline = time.monotonic() + 10
    while not callbacks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert callbacks and not answered
    assert urllib3.PoolManager().request("GET", f"http://127.0.0.1:{served.port}/accounts/login/").status == 200
    assert not answered
    finished.set()
    callbacks[0]()  # as the database thread calls it
    sending.join(10)
    assert answered and answered[0]["messages"][0]["id"].startswith("wamid.")


@pytest.mark.django_db(transaction=True)
def test_a_failing_application_is_a_500_and_the_server_goes_on():
    def broken(environ, start_response):
        raise RuntimeError("broken")

    def fine(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]

    apps = {"/broken": broken}
    server = Server(lambda environ, start: apps.get(environ["PATH_INFO"], fine)(environ, start), "127.0.0.1", 0,
                    threads=1)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        pool = urllib3.PoolManager(retries=False)
        assert pool.request("GET", f"http://127.0.0.1:{server.port}/broken").status == 500
        ok = pool.request("GET", f"http://127.0.0.1:{server.port}/other")
        assert (ok.status, ok.data, ok.headers["Content-Length"]) == (200, b"fine", "4")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()


def test_the_command_checks_its_arguments(settings):
    with pytest.raises(CommandError, match="host:port"):
        call_command("simulator_serve", "--bind", "8001")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("simulator_serve", "--threads", "0")
    settings.SIMULATOR_ENABLED = False
    with pytest.raises(CommandError, match="off"):
        call_command("simulator_serve")


# -- the rows a simulator process keeps ---------------------------------------------------
@pytest.mark.django_db
def test_settings_and_numbers_are_kept_for_the_setting_and_forgotten_on_a_save(settings):
    number = WhatsAppNumberFactory(access_token="first")
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"latency_ms": 5})
    lookups = ((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", number.phone_number_id))
    rows.forget()
    config, loaded = rows.read_two_kept(*lookups, 60)
    assert (config.latency_ms, loaded.access_token) == (5, "first")
    # A change made elsewhere (a queryset update: no signal) waits for the time to pass...
    SimulatorConfig.objects.filter(pk=1).update(latency_ms=9)
    assert rows.read_two_kept(*lookups, 60)[0].latency_ms == 5
    assert rows.read_two_kept(*lookups, 0)[0].latency_ms == 9  # 0: read every time
    # ...one saved in this process applies at once.
    number.access_token = "second"
    number.save()
    assert rows.read_two_kept(*lookups, 60)[1].access_token == "second"
    SimulatorConfig.objects.filter(pk=1).update(latency_ms=11)
    config = SimulatorConfig.objects.get(pk=1)
    config.save()
    assert rows.read_two_kept(*lookups, 60)[0].latency_ms == 11
    rows.forget()


@pytest.mark.django_db
def test_a_number_not_found_is_not_kept():
    lookups = ((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", "15550001111"))
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"latency_ms": 1})
    rows.forget()
    assert rows.read_two_kept(*lookups, 60)[1] is None
    other = WhatsAppNumberFactory()
    WhatsAppNumber.objects.filter(pk=other.pk).update(phone_number_id="15550001111")  # no signal
    assert rows.read_two_kept(*lookups, 60)[1].pk == other.pk  # found all the same
    rows.forget()


@pytest.mark.django_db
def test_a_value_too_long_for_its_column_is_refused_not_cut():
    from django.db import DataError

    import psycopg

    with pytest.raises((DataError, psycopg.DataError)):
        rows.insert_many([(SimulatedMessage, {"phone_number_id": "1", "customer": "1" * 40, "direction": "out",
                                              "wamid": "wamid.LONG", "type": "text", "payload": {}})])


@pytest.mark.django_db
def test_kept_rows_expire(monkeypatch):
    number = WhatsAppNumberFactory()
    lookups = ((SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", number.phone_number_id))
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"latency_ms": 1})
    rows.forget()
    now = [1000.0]
    monkeypatch.setattr(rows.time, "monotonic", lambda: now[0])
    assert rows.read_two_kept(*lookups, 2)[0].latency_ms == 1
    SimulatorConfig.objects.filter(pk=1).update(latency_ms=2)
    now[0] += 1.9
    assert rows.read_two_kept(*lookups, 2)[0].latency_ms == 1
    now[0] += 0.2
    assert rows.read_two_kept(*lookups, 2)[0].latency_ms == 2
    rows.forget()


@pytest.mark.django_db(transaction=True)
def test_store_begin_lets_the_caller_go_on_and_tells_it_when_stored():
    waiter = rows.store_begin([(SimulatedRequest, {"method": "POST", "path": "/begin", "body": None,
                                                   "status_code": 200, "response": None, "received_at": None})])
    waiter()  # waits; raises what failed
    assert waiter.done() and SimulatedRequest.objects.filter(path="/begin").exists()
    rows.insert(SimulatedMessage, phone_number_id="1", customer="1", direction="out", wamid="wamid.DUP", type="text",
                payload={})
    import psycopg
    from django.db import IntegrityError

    # When waited for (the database thread, psycopg's own error), or at once (Django's).
    with pytest.raises((IntegrityError, psycopg.IntegrityError)):
        rows.store_begin([(SimulatedMessage, {"phone_number_id": "1", "customer": "1", "direction": "out",
                                              "wamid": "wamid.DUP", "type": "text", "payload": {}})])()
    assert rows.store_begin([]).done()
    called = []
    rows.store_begin([]).when_done(lambda: called.append(1))  # done: at once
    waiter = rows.store_begin([(SimulatedRequest, {"method": "POST", "path": "/later", "body": None,
                                                   "status_code": 200, "response": None, "received_at": None})])
    waiter.when_done(lambda: called.append(2))  # when stored (by the database thread, or at once)
    waiter()
    deadline = time.monotonic() + 5
    while len(called) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert called == [1, 2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("when", ["before the loop read it", "during its latency"])
def test_a_send_fully_received_is_kept_when_its_client_vanishes(served, when):
    """Meta keeps a request it has whole, whatever becomes of the connection that
    brought it (a sender killed with SIGKILL resets it): the message is accepted and
    stored, though its answer has nobody to go to."""
    number = WhatsAppNumberFactory()
    SimulatorConfig.objects.filter(pk=1).update(latency_ms=200)
    body = json.dumps({"messaging_product": "whatsapp", "to": "5511999990000", "type": "text",
                       "text": {"body": f"vanished {when}"}}).encode()
    token = number.access_token
    request = (f"POST /simulator/graph/v21.0/{number.phone_number_id}/messages HTTP/1.1\r\n"
               f"Host: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    loop = served.loop
    free = threading.Event()
    if when == "before the loop read it":
        # The loop is busy (a loaded machine) while the request comes and the
        # connection is reset: it reads both in one go.
        busy = threading.Event()
        loop.call_soon_threadsafe(lambda: (busy.set(), free.wait(10)))
        assert busy.wait(10)
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    sock.sendall(request)
    if when == "during its latency":
        deadline = time.monotonic() + 10
        while not SimulatedRequest.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    # Reset, as the kernel does for a killed process's socket with unread data.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    free.set()
    deadline = time.monotonic() + 10
    while not SimulatedMessage.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(SimulatedMessage.objects.values_list("payload__text__body", flat=True)) == [f"vanished {when}"]
    assert SimulatedRequest.objects.filter(status_code=200).count() == 1
