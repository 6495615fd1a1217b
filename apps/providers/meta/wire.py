"""HTTP/1.1 on the wire for the Graph API calls of transport.py: the exceptions a call
ends with, an answer, and the asyncio protocol of one kept-alive connection. Answers
are read by httptools (llhttp, the parser uvicorn serves with): status line, headers,
and a body framed by Content-Length, chunked transfer coding, or the connection's
close. transport.py pools these connections and schedules the calls."""

from __future__ import annotations

import asyncio

import httptools

MAX_HEAD = 64 * 1024  # status line and headers of an answer
MAX_BODY = 16 * 1024 * 1024


class TransportError(Exception):
    """A call that got no complete answer."""


class ConnectTimeout(TransportError):
    """No connection within the connect timeout: the request was never sent."""


class ReadTimeout(TransportError):
    """The request was sent and no complete answer came within the read timeout."""


class ConnectionFailed(TransportError):
    """The connection could not be opened, or a kept-alive one was found closed before
    any answer came (the server closed it while idle: it never read the request)."""


class ProtocolError(TransportError):
    """The answer was not HTTP/1.x as this module reads it."""


class AnswerLost(TransportError):
    """The request was written and its answer was cut off or garbled: the server may
    have acted on it (as after a read timeout)."""


class Answer:
    """An HTTP answer: its status, headers (lower-case names) and body."""

    __slots__ = ("status_code", "headers", "content", "keep_alive")

    def __init__(self, status_code: int, headers: dict, content: bytes, keep_alive: bool):
        self.status_code, self.headers, self.content, self.keep_alive = status_code, headers, content, keep_alive


class _Headers(dict):
    """Answer headers; `get` ignores the name's case (as requests' and urllib3's do)."""

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def __contains__(self, name):
        return super().__contains__(name.lower())


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one exchange at a time. Each exchange reads its
    answer with a parser of its own (interim 1xx answers are read and skipped)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.lost = False
        self.eof = False
        self.idle_since = 0.0
        self.received = False  # whether any byte of the current answer arrived
        self._method = "POST"
        self._parser = None
        self._headers: dict = {}
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._head_done = False

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        waiter = self.waiter
        if waiter is None:  # nothing asked: an idle connection the server talks on
            self.close()
            return
        self.received = True
        if waiter.done():
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("the server switched protocols")
        except httptools.HttpParserError as exc:  # a callback's refusal arrives wrapped
            refused = exc.__context__ if isinstance(exc.__context__, _Refused) else None
            self._fail(str(refused) if refused else f"not an HTTP/1.x answer as expected: {exc}")

    def eof_received(self):
        self.eof = True
        self._ended()
        return False  # close our side too

    def connection_lost(self, exc):
        self.lost = True
        self.eof = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            self._ended()
            if not waiter.done():
                waiter.set_exception(ConnectionFailed(f"connection closed before the answer was complete: {exc}"
                                                      if exc else "connection closed before the answer was complete"))

    # -- one exchange ------------------------------------------------------------------
    def usable(self, now: float, idle_seconds: float) -> bool:
        """Open, and idle for less than `idle_seconds` (the pool's limit)."""
        return not self.lost and not self.eof and now - self.idle_since < idle_seconds

    async def exchange(self, method: str, data: bytes, read_timeout: float) -> Answer:
        self._method, self.received = method, False
        self._start()
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(read_timeout, self._timed_out, waiter)
        try:
            self.transport.write(data)
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None
            self._parser = None

    def _start(self):
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._head_size, self._head_done = {}, 0, False
        self._body, self._body_size = [], 0

    def _timed_out(self, waiter):
        if not waiter.done():
            waiter.set_exception(ReadTimeout("no complete answer within the read timeout"))
            self.close()

    def close(self):
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, message: str):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ProtocolError(message))
        self.close()

    def _ended(self):
        """The server closed its side: an answer framed by the close is complete now;
        any other answer not yet complete was cut off (connection_lost says so)."""
        waiter = self.waiter
        if waiter is None or waiter.done() or not self._head_done:
            return
        headers = self._headers
        if "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower():
            waiter.set_exception(ConnectionFailed("connection closed in the answer's body"))
            return
        self._answer(keep_alive=False)

    def _answer(self, keep_alive: bool):
        status = self._parser.get_status_code()
        self.waiter.set_result(Answer(status, _Headers(self._headers), b"".join(self._body),
                                      keep_alive and not self.eof))

    # -- httptools' callbacks ----------------------------------------------------------
    def on_header(self, name: bytes, value: bytes):
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD:
            raise _Refused("answer headers too long")
        key, text = name.decode("latin-1").lower(), value.decode("latin-1").strip()
        found = self._headers.get(key)
        self._headers[key] = f"{found}, {text}" if found is not None else text

    def on_headers_complete(self):
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return
        length = self._headers.get("content-length")
        if length is not None:
            try:
                size = int(length.split(",")[0])
            except ValueError:
                raise _Refused("not an HTTP/1.x answer: bad Content-Length") from None
            if size > MAX_BODY:
                raise _Refused("answer too long")
        self._head_done = True
        if self._method == "HEAD":  # the answer's framing describes a body that is not sent
            self._answer(keep_alive=self._parser.should_keep_alive())

    def on_body(self, body: bytes):
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            raise _Refused("answer too long")
        self._body.append(body)

    def on_message_complete(self):
        if not self._head_done:  # an interim answer: the final one follows, on the same parser
            self._headers, self._head_size, self._body, self._body_size = {}, 0, [], 0
            return
        if not self.waiter.done():
            self._answer(keep_alive=self._parser.should_keep_alive())


class _Refused(Exception):
    """An answer this module will not read further (too long, or badly framed)."""
