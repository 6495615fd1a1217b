"""The process's maintained HTTP client (aiohttp) for every outside call but the send
worker's batches.

One `aiohttp.ClientSession` per process lives on an event loop in a daemon thread of
its own (started on first use, again in a forked child). Sync callers (views, Celery
tasks) hand it a coroutine and wait for its result (`run`). The session keeps
connections alive (at most GRAPH_HTTP_POOL_SIZE), reads proxies from the environment
(HTTPS_PROXY, HTTP_PROXY, NO_PROXY: `trust_env`), verifies certificates against
REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or certifi's bundle, keeps no cookies and follows
no redirect. Every failure without an answer is raised as `Failure` (an OSError), a
`ConnectTimeout` (the request never left) or a `ReadTimeout` (it was sent and no
answer came in time: the peer may have acted on it).

The send worker's batches stay on transport.py (docs/benchmarks.md, "HTTP client CPU").
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
import urllib.request
from urllib.parse import urlsplit

import aiohttp

USER_AGENT = "whatsapp-inbox/1.0 (+https://github.com/)"


class Failure(OSError):
    """No answer: the peer could not be reached, or the exchange broke off."""

    read_timeout = False


class ConnectTimeout(Failure):
    """No connection in time: the request was never sent."""


class ReadTimeout(Failure):
    """The request was sent and its answer did not come in time."""

    read_timeout = True


class Answer:
    """A whole answer: status, headers (case-insensitive), body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers, content: bytes):
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        import json

        return json.loads(self.content)


def ca_bundle() -> str:
    import certifi

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


class _Client:
    """The loop thread and its session (made on the loop, on first use)."""

    def __init__(self, pool_size: int):
        self.pid = os.getpid()
        self.pool_size = pool_size
        self.loop = asyncio.new_event_loop()
        self.session: aiohttp.ClientSession | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="graph-http", daemon=True)
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and not self.loop.is_closed()

    async def get_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            context = ssl.create_default_context(cafile=ca_bundle())
            connector = aiohttp.TCPConnector(limit=self.pool_size, ssl=context)
            self.session = aiohttp.ClientSession(
                connector=connector, trust_env=True, cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
            )
        return self.session

    def stop(self) -> None:
        async def close():
            if self.session is not None:
                await self.session.close()

        if self.alive() and self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
            except Exception:  # noqa: BLE001, S110 - stopping anyway
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


_client: _Client | None = None
_lock = threading.Lock()


def _current(pool_size: int | None = None) -> _Client:
    global _client
    client = _client
    if client is None or not client.alive():
        with _lock:
            client = _client
            if client is None or not client.alive():
                if pool_size is None:
                    from django.conf import settings

                    pool_size = settings.GRAPH_HTTP_POOL_SIZE
                client = _client = _Client(pool_size)
    return client


def run(coroutine_function, *args, pool_size: int | None = None):
    """`await coroutine_function(session, *args)` on the process's loop; its result
    (or what it raised) in the calling thread."""
    client = _current(pool_size)
    if threading.current_thread() is client.thread:
        raise RuntimeError("http.run() called from its own loop: await the coroutine instead")

    async def call():
        return await coroutine_function(await client.get_session(), *args)

    return asyncio.run_coroutine_threadsafe(call(), client.loop).result()


def reset() -> None:
    """Close the process's session and stop its loop (tests, settings changes)."""
    global _client
    with _lock:
        client, _client = _client, None
    if client is not None:
        client.stop()
    _proxied.clear()


def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    # Connecting (a free place in the pool included) and each read are bounded apart:
    # a read timeout means the peer may have the request.
    return aiohttp.ClientTimeout(total=None, connect=seconds, sock_connect=seconds, sock_read=seconds)


def _failure(exc: BaseException) -> Failure:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeout(f"timed out connecting: {exc}")
    if isinstance(exc, TimeoutError):  # aiohttp.SocketTimeoutError included
        return ReadTimeout(f"timed out waiting for the answer: {exc}")
    return Failure(str(exc) or type(exc).__name__)


async def exchange(session: aiohttp.ClientSession, method: str, url: str, headers: dict, data, timeout: float
                   ) -> Answer:
    """One call, its answer read whole whatever its status (no redirect followed)."""
    try:
        async with session.request(method, url, headers=headers, data=data, allow_redirects=False,
                                   timeout=_timeout(timeout)) as response:
            return Answer(response.status, response.headers, await response.read())
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise _failure(exc) from exc


def request(method: str, url: str, *, headers: dict, data=None, timeout: float) -> Answer:
    """`exchange` from a sync caller."""
    return run(exchange, method, url, headers, data, timeout)


class Streamed:
    """An answer whose body is read as it comes (`iter_content`), from a sync caller.
    The caller closes it."""

    def __init__(self, client: _Client, response: aiohttp.ClientResponse):
        self._client, self._response = client, response
        self.status_code = response.status
        self.headers = response.headers

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._client.loop).result()

    def iter_content(self, chunk_size: int = 64 * 1024):
        while True:
            try:
                chunk = self._run(self._response.content.read(chunk_size))
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise _failure(exc) from exc
            if not chunk:
                return
            yield chunk

    @property
    def content(self) -> bytes:
        return b"".join(self.iter_content())

    def json(self):
        import json

        return json.loads(self.content)

    def close(self) -> None:
        self._client.loop.call_soon_threadsafe(self._response.close)


def stream(method: str, url: str, *, headers: dict, timeout: float) -> Streamed:
    """A call whose answer's head is read; its body is left to `Streamed.iter_content`."""
    client = _current()

    async def start(session):
        try:
            return await session.request(method, url, headers=headers, allow_redirects=False,
                                         timeout=_timeout(timeout))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _failure(exc) from exc

    return Streamed(client, run(start))


_proxied: dict[str, bool] = {}


def proxied(url: str) -> bool:
    """Whether the environment names a proxy for `url` (HTTPS_PROXY, HTTP_PROXY,
    NO_PROXY), looked up once per origin and kept for the process: the
    send worker asks for every call. As aiohttp reads them (`trust_env`)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    found = _proxied.get(origin)
    if found is None:
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(parts.scheme)
        found = bool(proxy) and not urllib.request.proxy_bypass_environment(parts.hostname or "", proxies)
        if len(_proxied) >= 1000:
            _proxied.clear()
        _proxied[origin] = found
    return found
