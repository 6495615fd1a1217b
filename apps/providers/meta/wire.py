"""HTTP/1.1 on the wire for the Graph API calls of transport.py: the exceptions a call
ends with, an answer, and the asyncio protocol of one kept-alive connection (status
line, headers, and a body framed by Content-Length, chunked transfer coding, or the
connection's close). transport.py pools these connections and schedules the calls."""

from __future__ import annotations

import asyncio

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
    """One kept-alive connection: one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.lost = False
        self.eof = False
        self.idle_since = 0.0
        self.received = False  # whether any byte of the current answer arrived
        self._head = None  # (version, status, headers, framing, length) of the answer being read
        self._method = "POST"

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.waiter is None:  # nothing asked: an idle connection the server talks on
            self.close()
            return
        self.received = True
        self.buffer += data
        self._read()

    def eof_received(self):
        self.eof = True
        if self.waiter is not None:
            self._read()
        return False  # close our side too

    def connection_lost(self, exc):
        self.lost = True
        self.eof = True
        if self.waiter is not None and not self.waiter.done():
            self._read()
            if not self.waiter.done():
                self.waiter.set_exception(ConnectionFailed(f"connection closed before the answer was complete: {exc}"
                                                           if exc else "connection closed before the answer was complete"))

    # -- one exchange ------------------------------------------------------------------
    def usable(self, now: float, idle_seconds: float) -> bool:
        """Open, and idle for less than `idle_seconds` (the pool's limit)."""
        return not self.lost and not self.eof and now - self.idle_since < idle_seconds

    async def exchange(self, method: str, data: bytes, read_timeout: float) -> Answer:
        self._method, self._head, self.received = method, None, False
        self.buffer.clear()
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(read_timeout, self._timed_out, waiter)
        try:
            self.transport.write(data)
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None

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

    def _read(self):
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        buf = self.buffer
        while self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    return self._fail("answer headers too long")
                return
            head = self._parse_head(bytes(buf[:end]))
            del buf[: end + 4]
            if head is None:
                return self._fail("not an HTTP/1.x answer")
            if 100 <= head[1] < 200:  # an interim answer: the final one follows
                continue
            self._head = head
        version, status, headers, framing, length = self._head
        if framing == "length":
            if len(buf) < length:
                if self.eof:
                    waiter.set_exception(ConnectionFailed("connection closed in the answer's body"))
                return
            content = bytes(buf[:length])
            del buf[:length]
        elif framing == "chunked":
            parsed = _dechunk(buf)
            if parsed is None:
                if self.eof:
                    waiter.set_exception(ConnectionFailed("connection closed in the answer's body"))
                elif len(buf) > MAX_BODY:
                    self._fail("answer too long")
                return
            if parsed is False:
                return self._fail("bad chunked coding")
            content = parsed
            buf.clear()
        else:  # delimited by the connection's close
            if not self.eof:
                if len(buf) > MAX_BODY:
                    self._fail("answer too long")
                return
            content = bytes(buf)
            buf.clear()
        connection = headers.get("connection", "").lower()
        keep_alive = framing != "close" and (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        waiter.set_result(Answer(status, headers, content, keep_alive and not self.eof))

    def _parse_head(self, raw: bytes):
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            return None
        version, status = parts[0], int(parts[1])
        found: dict = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name, value = name.strip().lower(), value.strip()
            found[name] = f"{found[name]}, {value}" if name in found else value
        headers = _Headers(found)
        if self._method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return version, status, headers, "length", 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return version, status, headers, "chunked", 0
        length = headers.get("content-length")
        if length is not None:
            try:
                length = int(length.split(",")[0])
            except ValueError:
                return None
            if length < 0 or length > MAX_BODY:
                return None
            return version, status, headers, "length", length
        return version, status, headers, "close", 0


def _dechunk(buf: bytearray):
    """The body of a complete chunked answer in `buf`; None while incomplete; False
    when the coding is broken. Trailers are read and dropped."""
    position, parts = 0, []
    while True:
        end = buf.find(b"\r\n", position)
        if end < 0:
            return None
        size_field = bytes(buf[position:end]).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return False
        position = end + 2
        if size == 0:
            while True:  # trailers, up to an empty line
                end = buf.find(b"\r\n", position)
                if end < 0:
                    return None
                if end == position:
                    return b"".join(parts)
                position = end + 2
        if len(buf) < position + size + 2:
            return None
        parts.append(bytes(buf[position: position + size]))
        if buf[position + size: position + size + 2] != b"\r\n":
            return False
        position += size + 2
