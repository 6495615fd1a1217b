"""The process's maintained HTTP client (aiohttp) for every outside call but the send
worker's batches.

Sync callers (views, Celery tasks) run a call's coroutine on an event loop of their
thread's own, with its `aiohttp.ClientSession` (made on first use, again in a forked
child), and wait for its result (`run`); a thread already running an event loop hands
it to one shared loop thread instead. A session keeps connections alive (at most
GRAPH_HTTP_POOL_SIZE), takes proxies from the environment (HTTPS_PROXY, HTTP_PROXY,
NO_PROXY: `proxy_for`), verifies certificates against
REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or certifi's bundle, keeps no cookies and follows
no redirect. Every failure without an answer is raised as `Failure` (an OSError), a
`ConnectTimeout` (the request never left) or a `ReadTimeout` (it was sent and no
answer came in time: the peer may have acted on it).

The send worker's batches stay on transport.py (docs/benchmarks.md, "HTTP client CPU").
"""

from __future__ import annotations

import asyncio
import atexit
import functools
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
    """An event loop and its session (made on the loop, on first use). A caller's
    own loop (`owned`) runs only while that thread waits for a call; the shared one
    runs in a daemon thread of its own."""

    def __init__(self, pool_size: int, *, owned: bool):
        self.pid = os.getpid()
        self.pool_size = pool_size
        self.owned = owned
        self.loop = asyncio.new_event_loop()
        self.session: aiohttp.ClientSession | None = None
        self.thread = threading.current_thread()
        if not owned:
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
            # Proxies are looked up per origin once (`proxy_for`), not by aiohttp's
            # trust_env on every call (it scans the environment each time: more CPU
            # than the call itself).
            self.session = aiohttp.ClientSession(
                connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
            )
        return self.session

    def call(self, coroutine):
        """The result of `coroutine` on this loop, waited for in the calling thread."""
        if self.owned:
            return self.loop.run_until_complete(coroutine)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        async def close():
            if self.session is not None:
                await self.session.close()

        if self.loop.is_closed() or self.pid != os.getpid():
            return
        if self.owned:
            if not self.loop.is_running():
                # In a thread of its own: the thread stopping it may run a loop of its
                # own (an async test, a browser driver), where run_until_complete is refused.
                def finish():
                    try:
                        self.loop.run_until_complete(close())
                    finally:
                        self.loop.close()

                closer = threading.Thread(target=finish, name="graph-http-close", daemon=True)
                closer.start()
                closer.join(5)
            return
        if self.thread.is_alive() and self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
            except Exception:  # noqa: BLE001, S110 - stopping anyway
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


# Each thread that calls has a loop and a session of its own (`owned`): it runs the
# call itself, with no hand-over to another thread (which cost a fifth more CPU per
# call). A thread that is running an event loop already uses the shared loop thread.
_shared: _Client | None = None
_owned: list[_Client] = []
_local = threading.local()
_lock = threading.Lock()


def _pool_size(pool_size: int | None) -> int:
    if pool_size is None:
        from django.conf import settings

        pool_size = settings.GRAPH_HTTP_POOL_SIZE
    return pool_size


def _current(pool_size: int | None = None) -> _Client:
    global _shared
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        client = getattr(_local, "client", None)
        if client is None or not client.alive():
            client = _local.client = _Client(_pool_size(pool_size), owned=True)
            with _lock:
                ended = [c for c in _owned if not c.thread.is_alive() or c.pid != os.getpid()]
                _owned[:] = [c for c in _owned if c not in ended] + [client]
            for old in ended:  # a thread that ended: its connections are closed here
                old.stop()
        return client
    client = _shared
    if client is None or not client.alive():
        with _lock:
            client = _shared
            if client is None or not client.alive():
                client = _shared = _Client(_pool_size(pool_size), owned=False)
    return client


def run(coroutine_function, *args, pool_size: int | None = None):
    """`await coroutine_function(session, *args)` on the calling thread's loop (or
    the shared loop thread); its result (or what it raised) in the calling thread."""
    client = _current(pool_size)
    if threading.current_thread() is client.thread and not client.owned:
        raise RuntimeError("http.run() called from its own loop: await the coroutine instead")

    async def call():
        if client.owned:
            await _catch_up()
        return await coroutine_function(await client.get_session(), *args)

    return client.call(call())


async def _catch_up() -> None:
    """Let a loop that stood still since its thread's last call see what happened
    meanwhile (a kept-alive connection the peer closed is then dropped from the pool,
    not written to): two turns of the loop, the first polling the sockets (a closed
    one's transport is then closing, which the pool checks)."""
    for _ in range(2):
        await asyncio.sleep(0)


def reset() -> None:
    """Close every session of the process and stop the shared loop (tests, settings
    changes): kept-alive connections are dropped. A thread in a call keeps its own."""
    global _shared
    with _lock:
        shared, _shared = _shared, None
        owned, _owned[:] = list(_owned), []
    for client in owned:
        client.stop()
    if shared is not None:
        shared.stop()
    _proxies.clear()


# A process that ends (a management command, a worker's child) closes its sessions and
# their connections instead of leaving asyncio to report them unclosed.
atexit.register(reset)


@functools.lru_cache(maxsize=16)
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
                                   timeout=_timeout(timeout), proxy=proxy_for(url)) as response:
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
        return self._client.call(coroutine)

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
        if self._client.owned:
            self._response.close()
        else:
            self._client.loop.call_soon_threadsafe(self._response.close)


def stream(method: str, url: str, *, headers: dict, timeout: float) -> Streamed:
    """A call whose answer's head is read; its body is left to `Streamed.iter_content`."""
    client = _current()

    async def start(session):
        try:
            return await session.request(method, url, headers=headers, allow_redirects=False,
                                         timeout=_timeout(timeout), proxy=proxy_for(url))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _failure(exc) from exc

    async def call():
        if client.owned:
            await _catch_up()
        return await start(await client.get_session())

    return Streamed(client, client.call(call()))


_proxies: dict[str, str | None] = {}


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY and
    NO_PROXY, as requests and aiohttp read them), looked up once per origin and
    kept for the process (`reset` forgets): the send worker asks for every call."""
    try:
        return _proxies[url]  # this URL's answer, kept (the same URL is called again and again)
    except KeyError:
        pass
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin in _proxies:
        if len(_proxies) >= 1000:
            _proxies.clear()
        proxy = _proxies[url] = _proxies[origin]
        return proxy
    environment = urllib.request.getproxies_environment()
    proxy = environment.get(parts.scheme) or None
    if proxy and urllib.request.proxy_bypass_environment(parts.hostname or "", environment):
        proxy = None
    if len(_proxies) >= 1000:
        _proxies.clear()
    _proxies[origin] = _proxies[url] = proxy
    return proxy


def proxied(url: str) -> bool:
    """Whether calls to `url` go through a proxy."""
    return proxy_for(url) is not None
