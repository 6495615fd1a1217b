"""The simulator's server for load: a WSGI application behind aiohttp's web server.

`manage.py simulator_serve` serves the product's WSGI application (so the simulated
Graph API with every path the client calls, and anything else) from aiohttp's
low-level web server, one event loop per process and a few threads. It exists for
load tests and benchmarks: the simulator stands in for Meta, which answers after a
round trip of about 200 ms, and a server with a thread per call in flight (gunicorn's
gthread) spends more CPU on hundreds of threads handing the GIL to each other than on
the calls. Here a call runs in one of `threads` threads and its answer waits for its
time on the loop, holding no thread. aiohttp parses and writes HTTP/1.1 (kept-alive
and pipelined connections, chunked request bodies, HEAD).

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
`latency_ms` after it. A view's own clock would log the moment a thread was free.
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

from aiohttp import web
from multidict import CIMultiDict

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024
_ERROR_500 = ("500 Internal Server Error", [("Content-Type", "text/plain")], b"500\n")


class _Deferred:
    __slots__ = ("at", "ready")

    def __init__(self):
        self.at, self.ready = 0.0, None

    def __call__(self, at: float, ready=None) -> None:
        self.at, self.ready = at, ready


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class Server:
    """The WSGI `application` served by aiohttp from one loop; `threads` threads run it."""

    def __init__(self, application, host: str, port: int, *, threads: int = 8):
        self.application = application
        self.host, self.port = host, port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="simulator-serve")
        self.web_server: web.Server | None = None
        self.server = None

    def environ(self, request: web.BaseRequest, body: bytes, arrived: tuple) -> dict:
        path, _, query = request.raw_path.partition("?")
        version = request.version
        peer = request.transport.get_extra_info("peername") if request.transport else None
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": f"HTTP/{version.major}.{version.minor}",
            "REMOTE_ADDR": str(peer[0]) if peer else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "simulator.answer_at": _Deferred(),
            "simulator.arrived": arrived,
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
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

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if (request.content_length or 0) > MAX_BODY:
            return web.Response(status=413, text="413 Payload Too Large\n")
        body = await request.content.read()  # the whole body, however framed
        if len(body) > MAX_BODY:
            return web.Response(status=413, text="413 Payload Too Large\n")
        environ = self.environ(request, body, (time.time(), time.monotonic()))
        loop = self.loop
        try:
            status, headers, content, deferred = await loop.run_in_executor(self.pool, self.call, environ)
            if deferred.at:
                pause = deferred.at - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
            ready = deferred.ready
            if ready is not None and not ready.done():
                when_done = getattr(ready, "when_done", None)
                if when_done is None:
                    await loop.run_in_executor(self.pool, ready)
                else:
                    # Waited for on the loop: a thread held per answer waiting for a
                    # slow commit could take every thread that runs requests.
                    finished = loop.create_future()
                    when_done(lambda: loop.call_soon_threadsafe(_resolve, finished))
                    await finished
            if ready is not None:
                ready()  # done: returns at once, or raises what failed
        except Exception:  # the application's or the ready rows' failure: a 500, as a WSGI server does
            logger.exception("simulator server: %s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            status, headers, content = _ERROR_500
        code, _, reason = status.partition(" ")
        # aiohttp writes the length (and leaves the body out of a HEAD's answer).
        kept = CIMultiDict((name, value) for name, value in headers if name.lower() != "content-length")
        return web.Response(status=int(code), reason=reason or None, body=content, headers=kept)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.web_server = web.Server(self.handle, access_log=None)
        self.server = await self.loop.create_server(self.web_server, self.host, self.port,
                                                    reuse_port=True, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        await self.start()
        try:
            async with self.server:
                await self.server.serve_forever()
        finally:
            await self.web_server.shutdown(1)

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
