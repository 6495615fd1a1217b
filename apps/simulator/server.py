"""The simulator's own server for load: a WSGI server on one asyncio event loop.

`manage.py simulator_serve` serves the product's WSGI application (so the simulated
Graph API with every path the client calls, and anything else) from one event loop
per process and a few threads. It exists for load tests and benchmarks: the
simulator stands in for Meta, which answers after a round trip of about 200 ms, and
a server with a thread per call in flight (gunicorn's gthread) spent more CPU on
hundreds of threads handing the GIL to each other than on the calls (about 0.65 ms
of CPU per bare call on loopback, most of it scheduling). Here a call runs in one of
`threads` threads and its answer waits for its time on the loop, holding no thread.

The latency handshake: the server puts a callable under `environ["simulator.answer_at"]`.
An application that would sleep before answering calls it instead with the
time.monotonic() deadline of its answer and, optionally, a `ready` object (with
`done()` and a blocking call that raises what failed) that must be complete before
the answer goes out (the simulator's stored rows). The server writes the answer at
the deadline, once `ready` is done (waited for on the loop when it has
`when_done(callback)`, in a thread otherwise).

The arrival: `environ["simulator.arrived"]` is (time.time(), time.monotonic()) when the
loop had read the whole request, before it waited for a thread: the simulator logs
that as the request's arrival (what Meta's rate limits count) and answers
`latency_ms` after it. A view's own clock would log the moment a thread was free:
while the threads are busy (opening their database connections at start), requests
that arrived spaced out would be logged bunched together.

HTTP/1.1 with kept-alive connections, one request at a time per connection
(pipelined requests wait their turn), request bodies framed by Content-Length
(a chunked request body is answered 411). Answers carry Content-Length. Not a
general-purpose server: no TLS, no streaming bodies (answers are joined in memory).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

logger = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
REASONS = {400: "Bad Request", 411: "Length Required", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error"}


class _Deferred:
    __slots__ = ("at", "ready")

    def __init__(self):
        self.at, self.ready = 0.0, None

    def __call__(self, at: float, ready=None) -> None:
        self.at, self.ready = at, ready


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, server: Server):
        self.server = server
        self.transport = None
        self.buffer = bytearray()
        self.busy = False
        self.closed = False
        self.peer = ("", 0)

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername") or ("", 0)

    def data_received(self, data):
        self.buffer += data
        if not self.busy:
            self._next()

    def connection_lost(self, exc):
        self.closed = True

    def _reply_error(self, status: int) -> None:
        body = f"{status} {REASONS[status]}\n".encode()
        self.transport.write(f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: text/plain\r\n"
                             f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        self.transport.close()
        self.closed = True

    def _next(self) -> None:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._reply_error(431)
            return
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        request_line = lines[0].split(" ")
        if len(request_line) != 3 or not request_line[2].startswith("HTTP/1."):
            return self._reply_error(400)
        method, target, version = request_line
        headers = []
        length = 0
        keep_alive = version == "HTTP/1.1"
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                return self._reply_error(400)
            name, value = name.strip(), value.strip()
            lower = name.lower()
            if lower == "content-length":
                if not value.isdigit():
                    return self._reply_error(400)
                length = int(value)
            elif lower == "transfer-encoding":
                return self._reply_error(411)
            elif lower == "connection":
                tokens = value.lower()
                keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
            headers.append((name, value))
        if length > MAX_BODY:
            return self._reply_error(413)
        if len(buf) < end + 4 + length:
            return
        body = bytes(buf[end + 4: end + 4 + length])
        del buf[: end + 4 + length]
        self.busy = True
        environ = self.server.environ(method, target, version, headers, body, self.peer)
        self.server.loop.create_task(self._serve(environ, keep_alive))

    async def _serve(self, environ: dict, keep_alive: bool) -> None:
        server = self.server
        try:
            status, headers, body, deferred = await server.loop.run_in_executor(server.pool, server.call, environ)
            if deferred.at:
                pause = deferred.at - server.loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
            ready = deferred.ready
            if ready is not None and not ready.done():
                when_done = getattr(ready, "when_done", None)
                if when_done is None:
                    await server.loop.run_in_executor(server.pool, ready)
                else:
                    # Waited for on the loop: a thread held per answer waiting for a
                    # slow commit could take every thread that runs requests.
                    finished = server.loop.create_future()
                    when_done(lambda: server.loop.call_soon_threadsafe(_resolve, finished))
                    await finished
            if ready is not None:
                ready()  # done: returns at once, or raises what failed
        except Exception:  # the application's or the ready rows' failure: a 500, as a WSGI server does
            logger.exception("simulator server: %s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            status, headers, body = "500 Internal Server Error", [("Content-Type", "text/plain")], b"500\n"
        if self.closed:
            return
        head = [f"HTTP/1.1 {status}"]
        has_length = False
        for name, value in headers:
            if name.lower() == "content-length":
                has_length = True
            head.append(f"{name}: {value}")
        if not has_length:
            head.append(f"Content-Length: {len(body)}")
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        if environ["REQUEST_METHOD"] == "HEAD" or status[:3] in ("204", "304") or status[:1] == "1":
            body = b""  # the headers say what a GET would have had; no body follows
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        if not keep_alive:
            self.transport.close()
            self.closed = True
            return
        self.busy = False
        if self.buffer:
            self._next()


class Server:
    """The application served from one loop; `threads` threads run it."""

    def __init__(self, application, host: str, port: int, *, threads: int = 8):
        self.application = application
        self.host, self.port = host, port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="simulator-serve")
        self.server = None

    def environ(self, method, target, version, headers, body, peer) -> dict:
        path, _, query = target.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": str(peer[0]) if peer else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "simulator.answer_at": _Deferred(),
            "simulator.arrived": (time.time(), time.monotonic()),
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                key = "HTTP_" + key
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def call(self, environ: dict):
        """Run the application (a pool thread): (status, headers, body, deferral)."""
        started = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return lambda data: None  # the legacy write(): not used by Django

        result = self.application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started[0], started[1], body, environ["simulator.answer_at"]

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.server = await self.loop.create_server(lambda: _Connection(self), self.host, self.port,
                                                    reuse_port=True, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        await self.start()
        async with self.server:
            await self.server.serve_forever()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.pool.shutdown(wait=False)


def serve(application, host: str, port: int, *, threads: int = 8) -> None:
    """Serve until interrupted (the management command). The objects made so far are
    moved out of the garbage collector's reach first (gc.freeze): a full collection
    walking all of Django's took 100-190 ms in which no call was received or answered."""
    import gc

    gc.collect()
    gc.freeze()
    server = Server(application, host, port, threads=threads)
    logger.info("simulator server %s on %s:%s, %s threads", os.getpid(), host, port, threads)
    try:
        asyncio.run(server.serve_forever())
    except KeyboardInterrupt:
        pass
    finally:
        server.close()



def serve_processes(application, host: str, port: int, *, threads: int = 8, processes: int = 1) -> None:
    """`serve` in `processes` processes sharing the port (SO_REUSEPORT): this one
    and forked children, which it stops when it is stopped (SIGTERM or SIGINT)."""
    children = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            serve(application, host, port, threads=threads)
            os._exit(0)
        children.append(pid)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        serve(application, host, port, threads=threads)
    finally:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
                os.waitpid(child, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
