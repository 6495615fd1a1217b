"""Calls to the Graph API from one event loop per process: the send worker's batches.

A send waits about as long for Meta's answer as everything else it does takes
together, so a worker must have many calls in flight. Threads did that at a cost:
hundreds of threads posting through urllib3 spent more CPU on handing the GIL and
the CPU to each other than on the calls (about 0.5 ms of CPU per call on loopback,
against 0.2 ms for the same calls from one event loop). Here one thread per process
runs an asyncio loop; a batch's calls are scheduled on it at their send slots
(`schedule`) and the caller's thread waits once for the whole batch.

The HTTP side is HTTP/1.1 over kept-alive connections (TLS for https), written for
what the Graph API answers: a status line, headers, and a body framed by
Content-Length, chunked transfer coding, or the connection's close. Requests carry
a Content-Length body. Timeouts: `connect` to open a connection (Meta never had the
request: `ConnectTimeout`), `read` from the request written to the answer complete
(Meta may have it: `ReadTimeout`). At most `SEND_CONCURRENCY` calls of a process
are in flight; the others wait for a free place.

apps.providers.meta.client builds the requests and reads the answers (`GraphClient.
send_message_call`, `GraphClient.answer`); nothing here knows Meta's errors.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from .wire import (  # noqa: F401 (the exceptions and Answer: callers name them from here)
    MAX_BODY,
    MAX_HEAD,
    AnswerLost,
    Answer,
    ConnectionFailed,
    ConnectTimeout,
    ProtocolError,
    ReadTimeout,
    TransportError,
    _Connection,
)

IDLE_SECONDS = 50.0  # a kept-alive connection idle longer is closed, not reused


# A call scheduled at a time it could not start within `late_after` of (the loop did
# not get the CPU in time) is not made: its result is LATE and the caller decides. The
# time is checked when the call is launched and again right before its request is
# written, after it got a place among the calls in flight and a connection: a request
# that waited for either (a new connection's handshake, in a process that has just
# started) is not written late, where it would crowd the next slots into one second.
LATE = object()


class _TooLate(Exception):
    """Raised by Pool.request for a scheduled call past its time (see LATE)."""


class _Slot:
    """A scheduled call's deadline for writing its request (the loop's clock), and
    its batch's "decided" count, taken once: when written, or found late."""

    __slots__ = ("write_by", "batch", "decided")

    def __init__(self, write_by: float, batch: "Batch"):
        self.write_by, self.batch, self.decided = write_by, batch, False

    def decide(self) -> None:
        if not self.decided:
            self.decided = True
            self.batch._decide()


# The slot of the scheduled call running in the current task (none for other calls).
_slot: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("graph_call_slot", default=None)


class Pool:
    """Kept-alive connections per origin, at most `limit` calls in flight. Lives in
    (and is used from) one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, ca_bundle: str | None = None):
        self.loop = loop
        self.limit = limit
        self.places = asyncio.Semaphore(limit)
        self.idle: dict[tuple, list[_Connection]] = {}
        self._ca_bundle = ca_bundle
        self._ssl: ssl.SSLContext | None = None
        self._targets: dict[str, tuple] = {}
        self._executor = None

    def _split(self, url: str):
        found = self._targets.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConnectionFailed(f"not an http(s) URL: {url}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            default = (parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)
            host_header = parts.hostname if default else f"{parts.hostname}:{port}"
            if ":" in parts.hostname and not default:  # an IPv6 literal
                host_header = f"[{parts.hostname}]:{port}"
            if len(self._targets) >= 1000:
                self._targets.clear()
            found = self._targets[url] = ((parts.scheme, parts.hostname, port), target, host_header)
        return found

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self._ca_bundle)
        return self._ssl

    async def _connect(self, origin: tuple, timeout: float) -> _Connection:
        scheme, host, port = origin
        try:
            context = self._context() if scheme == "https" else None
            _transport, connection = await asyncio.wait_for(
                self.loop.create_connection(lambda: _Connection(self.loop), host, port, ssl=context,
                                            server_hostname=host if context else None),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            raise ConnectTimeout(f"no connection to {host}:{port} within {timeout:g}s") from exc
        except (OSError, ssl.SSLError) as exc:  # a refusal, a certificate, an unreadable CA bundle
            raise ConnectionFailed(f"could not connect to {host}:{port}: {exc}") from exc
        return connection

    def _take_idle(self, origin: tuple) -> _Connection | None:
        idle = self.idle.get(origin)
        now = self.loop.time()
        while idle:
            connection = idle.pop()  # the most recently used
            if connection.usable(now, IDLE_SECONDS):
                return connection
            connection.close()
        return None

    def _give_back(self, origin: tuple, connection: _Connection) -> None:
        now = self.loop.time()
        connection.idle_since = now
        idle = self.idle.setdefault(origin, deque())
        idle.append(connection)
        # The least recently used are first: close those idle too long or closed.
        while idle and not idle[0].usable(now, IDLE_SECONDS):
            idle.popleft().close()

    def sweep(self) -> None:
        """Close the connections idle too long or closed by their server (the sender
        loop calls this now and then: without traffic nothing else would)."""
        now = self.loop.time()
        for idle in self.idle.values():
            for connection in [c for c in idle if not c.usable(now, IDLE_SECONDS)]:
                idle.remove(connection)
                connection.close()

    async def run_blocking(self, function, *args):
        """`function(*args)` in a thread of the pool's own (as many as the limit),
        counted among the calls in flight: a call this loop cannot make itself
        (through a proxy)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="graph-blocking")
        async with self.places:
            return await self.loop.run_in_executor(self._executor, function, *args)

    async def request(self, method: str, url: str, headers: dict, body: bytes | None, *, connect_timeout: float,
                      read_timeout: float) -> Answer:
        origin, target, host_header = self._split(url)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        async with self.places:
            connection = self._take_idle(origin)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin, connect_timeout)
            slot = _slot.get()
            if slot is not None:
                if self.loop.time() > slot.write_by:
                    self._give_back(origin, connection)  # kept for the next call
                    raise _TooLate()
                slot.decide()
            try:
                answer = await connection.exchange(method, data, read_timeout)
            except (ConnectionFailed, ProtocolError) as exc:
                connection.close()
                if reused and not connection.received:
                    # A kept-alive connection the server had closed while idle:
                    # nothing came back, the request was never read.
                    raise ConnectionFailed(f"kept-alive connection closed before any answer: {exc}") from exc
                raise AnswerLost(f"the answer was lost after the request was sent: {exc}") from exc
            except BaseException:
                connection.close()
                raise
            if answer.keep_alive:
                self._give_back(origin, connection)
            else:
                connection.close()
            return answer

    def close(self):
        for connections in self.idle.values():
            for connection in connections:
                connection.close()
        self.idle.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False)


class Batch:
    """The results of a batch of scheduled calls, in the order given: what each
    call's coroutine returned or raised, or LATE. `wait()` blocks the calling
    thread until all are in; `wait_decided()` until each call's request was written
    or the call found LATE (the LATE ones are known then). A result still None after a wait that
    timed out belongs to a call that may or may not have been made."""

    def __init__(self, count: int):
        self.results: list = [None] * count
        self._left = count
        self._undecided = count
        self._done = threading.Event()
        self._decided = threading.Event()
        if count == 0:
            self._done.set()
            self._decided.set()

    def _decide(self) -> None:
        self._undecided -= 1
        if self._undecided == 0:
            self._decided.set()

    def _set(self, index: int, result) -> None:
        self.results[index] = result
        self._left -= 1
        if self._left == 0:
            self._done.set()

    def _release(self) -> None:
        """Wake every waiter (the loop stops): unfinished results stay None."""
        self._decided.set()
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def wait_decided(self, timeout: float | None = None) -> bool:
        return self._decided.wait(timeout)

    def late(self) -> list[int]:
        """The indexes of the calls found LATE (final once `wait_decided()`)."""
        return [i for i, result in enumerate(self.results) if result is LATE]


class Sender:
    """An event loop in a daemon thread of its own, with its connection pool."""

    # A call launched more than this after its time marks the loop as behind for
    # BEHIND_HOLD seconds (`on_time`).
    BEHIND_AFTER = 0.01
    BEHIND_HOLD = 0.05

    def __init__(self, limit: int, ca_bundle: str | None = None):
        self.pid = os.getpid()
        self.behind_until = 0.0  # the loop's clock (time.monotonic()), written by the loop's thread only
        self.loop = asyncio.new_event_loop()
        self.pool = Pool(self.loop, limit, ca_bundle)
        self.batches: set[Batch] = set()  # unfinished (the loop's thread only)
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="graph-sender", daemon=True)
        self.thread.start()
        ready.wait()

    SWEEP_SECONDS = 10.0

    def _run(self, ready: threading.Event):
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.call_later(self.SWEEP_SECONDS, self._sweep)
        self.loop.run_forever()

    def _sweep(self) -> None:
        self.pool.sweep()
        self.loop.call_later(self.SWEEP_SECONDS, self._sweep)

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and not self.loop.is_closed()

    def schedule(self, calls: list[tuple[float, Callable[[Pool], Awaitable]]], *, late_after: float) -> Batch:
        """Run each call (a function of the pool returning an awaitable) at its time
        (time.monotonic(), the loop's clock); one that cannot start within
        `late_after` of its time is not run and its result is LATE."""
        batch = Batch(len(calls))
        if calls:
            self.loop.call_soon_threadsafe(self._start, batch, calls, late_after)
        return batch

    def run(self, call: Callable[[Pool], Awaitable], timeout: float | None = None):
        """Run one call now and wait for its result (it raises what the call raised)."""
        return asyncio.run_coroutine_threadsafe(self._one(call), self.loop).result(timeout)

    async def _one(self, call):
        return await call(self.pool)

    def _start(self, batch: Batch, calls, late_after: float) -> None:
        self.batches.add(batch)
        for index, (when, call) in enumerate(calls):
            self.loop.call_at(when, self._launch, batch, index, when, call, late_after)

    def on_time(self, timeout: float) -> bool:
        """Wait (up to `timeout` s) until the loop starts its calls on time again:
        none launched more than BEHIND_AFTER after its time within BEHIND_HOLD s.

        A loop that cannot start its calls on time (the process has more calls than
        CPU: its threads, the GIL) finds them late, and each late call takes a new
        slot. Slots reserved meanwhile would only be found late as well, and their
        new slots pushed the number's further ahead: the work grew as the loop fell
        behind, and the send rate collapsed (docs/benchmarks.md, "Sending past the
        process's capacity"). A batch asks this before it reserves slots, so that a
        process past its capacity takes slots as fast as it can use them."""
        give_up = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if now >= self.behind_until:
                return True
            if now >= give_up:
                return False
            time.sleep(min(self.behind_until, give_up) - now)

    def _launch(self, batch: Batch, index: int, when: float, call, late_after: float) -> None:
        now = self.loop.time()
        if now - when > self.BEHIND_AFTER:
            self.behind_until = now + self.BEHIND_HOLD
        if now - when > late_after:
            self._set(batch, index, LATE)
            batch._decide()
        else:
            self.loop.create_task(self._call(batch, index, call, _Slot(when + late_after, batch)))

    def _set(self, batch: Batch, index: int, result) -> None:
        batch._set(index, result)
        if batch._left == 0:
            self.batches.discard(batch)

    async def _call(self, batch: Batch, index: int, call, slot: _Slot) -> None:
        _slot.set(slot)  # this task's own context
        try:
            result = await call(self.pool)
        except _TooLate:
            result = LATE
        except BaseException as exc:  # the caller's thread settles it (a cancelled call too)
            self._set(batch, index, exc)
            slot.decide()
            if not isinstance(exc, Exception):
                raise
            return
        self._set(batch, index, result)
        slot.decide()  # (decided when written already, unless found late or made in a thread)

    def stop(self) -> None:
        def shutdown():
            for batch in self.batches:  # nobody waits for a call that will not end
                batch._release()
            self.batches.clear()
            self.pool.close()
            self.loop.stop()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(shutdown)
            self.thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


_sender: Sender | None = None
_sender_lock = threading.Lock()


def sender(limit: int, ca_bundle: str | None = None) -> Sender:
    """The process's sender loop (started on first use; again in a forked child)."""
    global _sender
    found = _sender
    if found is not None and found.alive():
        return found
    with _sender_lock:
        if _sender is None or not _sender.alive():
            _sender = Sender(limit, ca_bundle)
        return _sender


def reset() -> None:
    """Stop the process's sender loop (tests, settings changes)."""
    global _sender
    with _sender_lock:
        if _sender is not None and _sender.pid == os.getpid():
            _sender.stop()
        _sender = None
