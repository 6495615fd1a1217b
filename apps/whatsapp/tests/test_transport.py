"""The sender loop's HTTP/1.1 client (apps/providers/meta/transport.py) against a real
socket server of the test's own that answers what each test scripts."""

import datetime
import socket
import ssl
import threading
import time

import pytest

from apps.providers.meta import transport

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


class Server:
    """A TCP server: for each request it reads (head and Content-Length body) it sends
    the next scripted answer (bytes; (bytes, "close"): send them, then close; None:
    say nothing; "close": close the connection).
    Records the requests, their arrival times and the connections opened."""

    def __init__(self, *answers, hold: threading.Event | None = None, context: ssl.SSLContext | None = None):
        self.answers = list(answers)
        self.default = OK
        self.requests: list[bytes] = []
        self.arrivals: list[float] = []
        self.connections = 0
        self.concurrent = 0
        self.most_concurrent = 0
        self.hold = hold
        self.context = context
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"{'https' if context else 'http'}://127.0.0.1:{self.port}/v23.0/1/messages"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                with self.lock:
                    self.requests.append(head + b"\r\n\r\n" + rest[:length])
                    self.arrivals.append(time.monotonic())
                    answer = self.answers.pop(0) if self.answers else self.default
                    self.concurrent += 1
                    self.most_concurrent = max(self.most_concurrent, self.concurrent)
                buf = rest[length:]
                if self.hold is not None:
                    self.hold.wait(30)
                with self.lock:
                    self.concurrent -= 1
                if answer == "close":
                    return
                if answer is None:
                    time.sleep(30)
                    return
                then_close = isinstance(answer, tuple)  # (bytes, "close"): send, then close
                if then_close:
                    answer = answer[0]
                conn.sendall(answer)
                if then_close or b"Connection: close" in answer:
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def sender():
    found = transport.Sender(limit=50)
    yield found
    found.stop()


def call(url, body=b'{"to":"1"}', read_timeout=5.0, connect_timeout=5.0):
    async def run(pool):
        return await pool.request("POST", url, {"Content-Type": "application/json"}, body,
                                  connect_timeout=connect_timeout, read_timeout=read_timeout)
    return run


def test_a_content_length_answer_and_the_connection_kept_alive(sender):
    server = Server()
    answers = [sender.run(call(server.url)) for _ in range(3)]
    assert [(a.status_code, a.content, a.headers.get("CONTENT-TYPE")) for a in answers] == [
        (200, b'{"ok":true}', "application/json")] * 3
    assert server.connections == 1  # kept alive and reused
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v23.0/1/messages HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines and b"Content-Length: 10" in lines
    assert body == b'{"to":"1"}'
    server.close()


def test_a_chunked_answer_with_an_extension_and_a_trailer(sender):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: yes\r\n\r\n")
    server = Server(chunked)
    answer = sender.run(call(server.url))
    assert (answer.status_code, answer.content, answer.keep_alive) == (200, b'{"a":1}', True)
    assert sender.run(call(server.url)).content == b'{"ok":true}' and server.connections == 1
    server.close()


def test_an_answer_ended_by_the_close_is_read_and_its_connection_not_reused(sender):
    server = Server(b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nbroken", b"HTTP/1.1 200 OK\r\n"
                    b"Content-Length: 2\r\nConnection: close\r\n\r\nhi")
    first = sender.run(call(server.url))
    assert (first.status_code, first.content, first.keep_alive) == (500, b"broken", False)
    second = sender.run(call(server.url))
    assert (second.content, second.keep_alive) == (b"hi", False)
    sender.run(call(server.url))
    assert server.connections == 3
    server.close()


def test_an_interim_answer_is_skipped(sender):
    server = Server(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    assert sender.run(call(server.url)).content == b'{"ok":true}'
    server.close()


def test_no_answer_in_time_is_a_read_timeout_and_the_connection_is_dropped(sender):
    server = Server(None)
    began = time.monotonic()
    with pytest.raises(transport.ReadTimeout):
        sender.run(call(server.url, read_timeout=0.3))
    assert time.monotonic() - began < 5
    assert sender.run(call(server.url)).status_code == 200 and server.connections == 2
    server.close()


def test_a_refused_connection_and_a_broken_answer(sender):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(transport.ConnectionFailed):
        sender.run(call(f"http://127.0.0.1:{port}/x"))
    with pytest.raises(transport.ConnectionFailed, match="could not connect"):  # a CA bundle it cannot read
        transport.Sender(limit=1, ca_bundle="/nonexistent/ca.pem").run(call(f"https://127.0.0.1:{port}/x"))
    # Once the request is written, an answer cut off or garbled may follow a request
    # the server acted on: the answer is lost (not a plain connection failure).
    server = Server("close", (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "close"),
                    b"NOT HTTP\r\n\r\n")
    with pytest.raises(transport.AnswerLost):  # a new connection closed before any answer
        sender.run(call(server.url))
    with pytest.raises(transport.AnswerLost):  # closed within the body
        sender.run(call(server.url))
    with pytest.raises(transport.AnswerLost, match="not an HTTP"):
        sender.run(call(server.url))
    assert sender.run(call(server.url)).status_code == 200
    server.close()


def test_answers_too_long_or_badly_framed_are_not_read(sender, monkeypatch):
    """Headers or a body over the limits, a broken chunk and a Content-Length that is
    not a number end the call (its request was written: the answer is lost) and the
    connection; the next call opens another."""
    from apps.providers.meta import wire

    monkeypatch.setattr(wire, "MAX_HEAD", 200)
    monkeypatch.setattr(wire, "MAX_BODY", 100)
    server = Server(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 300 + b"\r\nContent-Length: 2\r\n\r\nhi",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + b"b" * 101,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"40\r\n" + b"c" * 64
                    + b"\r\n40\r\n" + b"c" * 64 + b"\r\n0\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nhi")
    for reason in ("headers too long", "too long", "too long", "not an HTTP", "not an HTTP"):
        with pytest.raises(transport.AnswerLost, match=reason):
            sender.run(call(server.url))
    assert sender.run(call(server.url)).status_code == 200 and server.connections == 6
    server.close()


def test_an_interim_answer_and_the_final_one_in_separate_reads(sender):
    answer_server = _SplitServer([b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n", b"HTTP/1.1 201 Created\r\n",
                                  b"Content-Length: 2\r\n\r\nok"])
    answer = sender.run(call(answer_server.url))
    assert (answer.status_code, answer.content, answer.headers.get("x-a")) == (201, b"ok", None)
    answer_server.close()


class _SplitServer(Server):
    """Answers the first request with `parts`, written one at a time a little apart."""

    def __init__(self, parts):
        self.parts = parts
        super().__init__()

    def _serve(self, conn):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += conn.recv(65536)
            for part in self.parts:
                conn.sendall(part)
                time.sleep(0.05)
            time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()


def test_a_kept_alive_connection_the_server_closed_is_not_reused(sender):
    # The server closes the connection while it is idle: the next call opens another.
    server = Server((b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "close"))
    assert sender.run(call(server.url)).content == b"hi"
    time.sleep(0.2)
    assert sender.run(call(server.url)).status_code == 200 and server.connections == 2
    # It closes it as the next request arrives, before any answer: the request was not
    # read, a plain connection failure; the next call opens another.
    server.answers = ["close"]
    with pytest.raises(transport.ConnectionFailed):
        sender.run(call(server.url))
    assert sender.run(call(server.url)).status_code == 200 and server.connections == 3
    # On a kept-alive connection, an answer begun and cut off is lost all the same.
    server.answers = [(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "close")]
    with pytest.raises(transport.AnswerLost):
        sender.run(call(server.url))
    server.close()


def test_answers_without_a_body_head_204_and_304(sender):
    server = Server(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
                    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1713\r\n\r\n")

    def head(url):
        async def run(pool):
            return await pool.request("HEAD", url, {}, None, connect_timeout=5, read_timeout=5)
        return run

    assert [sender.run(call(server.url)).status_code for _ in range(2)] == [204, 304]
    answer = sender.run(head(server.url))
    assert (answer.status_code, answer.content, answer.headers["content-length"]) == (200, b"", "1713")
    assert sender.run(call(server.url)).content == b'{"ok":true}' and server.connections == 1  # in step
    server.close()


def test_connections_idle_too_long_or_talked_to_while_idle_are_closed(sender, monkeypatch):
    server = Server()
    sender.run(call(server.url))
    monkeypatch.setattr(transport, "IDLE_SECONDS", 0.2)
    time.sleep(0.3)
    sender.run(call(server.url))  # the idle one is too old: a new one
    assert server.connections == 2
    time.sleep(0.3)
    done = threading.Event()
    sender.loop.call_soon_threadsafe(lambda: (sender.pool.sweep(), done.set()))
    done.wait(5)
    assert sum(len(idle) for idle in sender.pool.idle.values()) == 0  # swept
    monkeypatch.setattr(transport, "IDLE_SECONDS", 50.0)
    # A server that talks on an idle connection: that connection is not reused.
    sender.run(call(server.url))
    (connection,) = [c for idle in sender.pool.idle.values() for c in idle]
    sender.loop.call_soon_threadsafe(connection.data_received, b"unasked")
    time.sleep(0.1)
    assert connection.lost
    sender.run(call(server.url))
    assert server.connections == 4
    server.close()


def test_at_most_the_limit_is_in_flight_and_all_are_answered():
    hold = threading.Event()
    server = Server(hold=hold)
    sender = transport.Sender(limit=5)
    try:
        batch = sender.schedule([(time.monotonic(), call(server.url)) for _ in range(12)], late_after=60)
        deadline = time.monotonic() + 10
        while server.concurrent < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert server.concurrent == 5  # the limit, all at once
        hold.set()
        assert batch.wait(20)
        assert [r.status_code for r in batch.results] == [200] * 12
        assert server.most_concurrent == 5 and server.connections == 5
    finally:
        hold.set()
        sender.stop()
        server.close()


def test_calls_start_at_their_times_and_one_the_loop_could_not_start_in_time_is_late(sender):
    server = Server()
    now = time.monotonic()
    times = [now + 0.3, now + 0.1, now - 5.0]
    batch = sender.schedule([(at, call(server.url, body=str(i).encode())) for i, at in enumerate(times)],
                            late_after=0.5)
    assert batch.wait(10)
    first, second, late = batch.results
    assert first.status_code == second.status_code == 200 and late is transport.LATE
    assert len(server.requests) == 2  # the late call was not made
    by_body = dict(zip((r.rpartition(b"\r\n\r\n")[2] for r in server.requests), server.arrivals))
    assert by_body[b"1"] >= times[1] and by_body[b"0"] >= times[0] and by_body[b"1"] < by_body[b"0"]
    server.close()


def test_a_call_whose_connection_opens_past_its_time_is_not_written_and_the_connection_is_kept(monkeypatch):
    """A process that has just started opens its connections (a TLS handshake with
    Meta takes a few round trips): a request not written within late_after of its
    slot is not made, so that it does not reach Meta with the next slots' requests."""
    server = Server()
    opened = transport.Pool._connect

    async def slow_connect(pool, origin, timeout):
        import asyncio

        await asyncio.sleep(0.3)
        return await opened(pool, origin, timeout)

    monkeypatch.setattr(transport.Pool, "_connect", slow_connect)
    sender = transport.Sender(limit=5)
    try:
        batch = sender.schedule([(time.monotonic(), call(server.url))], late_after=0.1)
        assert batch.wait_decided(10) and batch.wait(10)
        assert batch.late() == [0] and server.requests == []
        # The connection it opened serves the next call, on time.
        again = sender.schedule([(time.monotonic(), call(server.url))], late_after=0.1)
        assert again.wait(10) and again.results[0].status_code == 200
        assert server.connections == 1 and len(server.requests) == 1
    finally:
        sender.stop()
        server.close()


def test_a_call_that_waited_for_a_place_past_its_time_is_not_written():
    hold = threading.Event()
    server = Server(hold=hold)
    sender = transport.Sender(limit=1)
    try:
        now = time.monotonic()
        batch = sender.schedule([(now, call(server.url)), (now + 0.05, call(server.url))], late_after=0.1)
        deadline = time.monotonic() + 10
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the second waits for the only place past its time
        hold.set()
        assert batch.wait(10)
        assert batch.results[0].status_code == 200 and batch.results[1] is transport.LATE
        assert len(server.requests) == 1
    finally:
        hold.set()
        sender.stop()
        server.close()


def test_an_error_in_a_call_is_its_result_a_cancelled_one_too():
    import asyncio

    sender = transport.Sender(limit=2)

    async def broken(pool):
        raise RuntimeError("bad call")

    async def cancelled(pool):
        raise asyncio.CancelledError()

    try:
        batch = sender.schedule([(time.monotonic(), broken), (time.monotonic(), cancelled)], late_after=1)
        assert batch.wait(5)
        assert isinstance(batch.results[0], RuntimeError) and isinstance(batch.results[1], asyncio.CancelledError)
        assert not sender.batches
    finally:
        sender.stop()


def test_stopping_the_loop_wakes_whoever_waits_for_a_batch():
    server = Server(None)  # never answers
    sender = transport.Sender(limit=2)
    batch = sender.schedule([(time.monotonic(), call(server.url, read_timeout=60))], late_after=1)
    assert batch.wait_decided(5) and not batch.wait(0.2)
    sender.stop()
    assert batch.wait(5) and batch.results == [None]  # no result: may or may not have been made
    server.close()


def test_late_calls_are_known_when_all_are_decided_before_the_answers(sender):
    hold = threading.Event()
    server = Server(hold=hold)
    now = time.monotonic()
    batch = sender.schedule([(now, call(server.url)), (now - 5, call(server.url))], late_after=0.5)
    try:
        assert batch.wait_decided(5)
        assert batch.late() == [1] and batch.results[0] is None  # the other is still in flight
    finally:
        hold.set()
    assert batch.wait(5) and batch.results[0].status_code == 200
    server.close()


def test_blocking_calls_run_in_the_pools_threads_within_the_limit():
    sender = transport.Sender(limit=3)
    lock = threading.Lock()
    running, most = [0], [0]

    def blocking(i):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return threading.current_thread().name, i

    def call_blocking(i):
        async def run(pool):
            return await pool.run_blocking(blocking, i)
        return run

    try:
        batch = sender.schedule([(time.monotonic(), call_blocking(i)) for i in range(10)], late_after=60)
        assert batch.wait(10)
        assert [i for _name, i in batch.results] == list(range(10))
        assert all(name.startswith("graph-blocking") for name, _i in batch.results)
        assert most[0] == 3
    finally:
        sender.stop()


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_https_checks_the_certificate_against_the_ca_bundle(tmp_path):
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server(context=context)
    url = f"https://localhost:{server.port}/v23.0/1/messages"
    trusting = transport.Sender(limit=2, ca_bundle=cert)
    default = transport.Sender(limit=2)
    try:
        assert trusting.run(call(url)).content == b'{"ok":true}'
        assert trusting.run(call(url)).status_code == 200 and server.connections == 1
        with pytest.raises(transport.ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
            default.run(call(url))  # not signed by a CA it trusts
    finally:
        trusting.stop()
        default.stop()
        server.close()


def test_one_sender_per_process_started_again_when_stopped():
    transport.reset()
    first = transport.sender(10)
    assert transport.sender(10) is first and first.alive()
    transport.reset()
    assert not first.alive()
    second = transport.sender(10)
    assert second is not first and second.alive()
    transport.reset()
