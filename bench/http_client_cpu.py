#!/usr/bin/env python
"""CPU per call of the HTTP clients we could send through.

A loopback HTTP/1.1 server in a process of its own answers every POST at once with
a Graph-API-shaped JSON body (Content-Length, kept alive), so that only the
client's CPU is counted: each client runs in a fresh process of its own and
reports `time.process_time()` over its calls (the warm-up, which opens the
kept-alive connections, is not counted). Every call does what a send does around
the HTTP: a JSON body encoded with a bearer token, the answer's JSON parsed for
its wamid.

Clients (`--clients`, all by default):
- `transport`: apps.providers.meta.transport as the send worker uses it: one
  `Sender` (a loop thread), the calls given to `schedule` together, at most
  `--concurrency` in flight. `--tree PATH` imports it from another checkout (to
  measure another branch's transport beside this one's);
- `httpx-async`: httpx2.AsyncClient (HTTP/1.1, pooled) from one asyncio loop, a
  task per call, at most `--concurrency` in flight;
- `aiohttp`: aiohttp.ClientSession the same way; `aiohttp-hot` and
  `aiohttp-hot-deadline`: a session set up for a hot path (with one session-level
  timeout, or none and each call's own deadline); `aiohttp-request` and
  `aiohttp-conn`: aiohttp below its session (docs/benchmarks.md, "aiohttp set up
  for the send path");
- `httpx-sync`, `urllib3-sync` and `graph-sync`: one call at a time from one thread,
  through httpx2.Client, through a urllib3 host pool (the JSON calls' path before
  aiohttp), and through apps/providers/meta/http.py (the JSON calls' path in
  apps/providers/meta/client.py: aiohttp on the process's loop thread, the caller
  waiting for each call).

Usage: python bench/http_client_cpu.py [--quick] [--count N] [--sync-count N] [--concurrency N]
       [--clients a,b] [--tree PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASYNC_CLIENTS = ("transport", "httpx-async", "aiohttp", "aiohttp-hot", "aiohttp-hot-deadline", "aiohttp-request",
                 "aiohttp-conn")
SYNC_CLIENTS = ("httpx-sync", "urllib3-sync", "graph-sync")
ANSWER = json.dumps({"messaging_product": "whatsapp", "contacts": [{"input": "5511999990000",
                     "wa_id": "5511999990000"}], "messages": [{"id": "wamid.HBgNNTUxMTk5OTk5MDAwMBUCABEYEjQ"}]},
                    separators=(",", ":")).encode()
HEADERS = {"Authorization": "Bearer bench-token-" + "x" * 180, "User-Agent": "whatsapp-inbox/1.0",
           "Content-Type": "application/json"}


# -- the server -------------------------------------------------------------------------
class _Answering(asyncio.Protocol):
    """Reads each request's head and Content-Length body and answers ANSWER."""

    RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER)

    def connection_made(self, transport):
        self.transport, self.buffer = transport, bytearray()

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.transport.write(self.RESPONSE)


def serve(port: int) -> None:
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Answering, "127.0.0.1", port, backlog=1024))
    try:
        loop.run_forever()
    finally:
        server.close()


# -- the clients ------------------------------------------------------------------------
def body(i: int) -> bytes:
    payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": f"5599{i:07d}",
               "type": "text", "text": {"body": f"bench {i}"}}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def wamid(status: int, content: bytes) -> bool:
    return status == 200 and bool(json.loads(content)["messages"][0]["id"])


def run_transport(url: str, count: int, concurrency: int, tree: str | None) -> tuple[float, float, int]:
    sys.path.insert(0, tree or str(ROOT))
    from apps.providers.meta import transport

    def call(i: int):
        async def run(pool):
            answer = await pool.request("POST", url, HEADERS, body(i), connect_timeout=10, read_timeout=10)
            return wamid(answer.status_code, answer.content)
        return run

    sender = transport.Sender(concurrency)
    sender.schedule([(time.monotonic(), call(0)) for _ in range(concurrency)], late_after=3600).wait()
    began = _began()
    batch = sender.schedule([(time.monotonic(), call(i)) for i in range(count)], late_after=3600)
    batch.wait()
    spent = _spent(began)
    sender.stop()
    return spent + (sum(1 for result in batch.results if result is not True),)


async def _in_flight(count: int, concurrency: int, one) -> tuple[float, float, int]:
    places = asyncio.Semaphore(concurrency)

    async def limited(i):
        async with places:
            try:
                return await one(i)
            except Exception:  # noqa: BLE001 (a failed call is counted as an error, whatever it raised)
                return False

    await asyncio.gather(*(limited(0) for _ in range(concurrency)))  # warm-up: the connections opened
    began = _began()
    results = await asyncio.gather(*(limited(i) for i in range(count)))
    return _spent(began) + (sum(1 for ok in results if not ok),)


def run_httpx_async(url: str, count: int, concurrency: int) -> tuple[float, float, int]:
    import httpx2

    async def main():
        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx2.AsyncClient(limits=limits, timeout=10, trust_env=False) as client:
            async def one(i):
                answer = await client.post(url, content=body(i), headers=HEADERS)
                return wamid(answer.status_code, answer.content)
            return await _in_flight(count, concurrency, one)

    return asyncio.run(main())


def run_aiohttp(url: str, count: int, concurrency: int) -> tuple[float, float, int]:
    import aiohttp

    async def main():
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
            async def one(i):
                async with session.post(url, data=body(i), headers=HEADERS) as answer:
                    return wamid(answer.status, await answer.read())
            return await _in_flight(count, concurrency, one)

    return asyncio.run(main())


def _hot_session(concurrency: int, timeout):
    """A ClientSession set up for a hot path: a connector sized to the calls in flight,
    no cookie jar, no decompression, no automatic headers, one session-level timeout."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, enable_cleanup_closed=False)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                                 skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"), timeout=timeout,
                                 raise_for_status=False, trust_env=False)


def run_aiohttp_hot(url: str, count: int, concurrency: int, own_deadline: bool) -> tuple[float, float, int]:
    """`aiohttp-hot`: the hot-path session with its timeout (connect and read, the
    transport's two); `aiohttp-hot-deadline`: no aiohttp timeout at all, the call
    cancelled by a timer of its own at its deadline (one timer per call, as the
    transport's read timeout)."""
    import aiohttp
    from yarl import URL

    target = URL(url)
    headers = dict(HEADERS)

    async def main():
        loop = asyncio.get_running_loop()
        timeout = aiohttp.ClientTimeout() if own_deadline else aiohttp.ClientTimeout(sock_connect=10, sock_read=10)
        async with _hot_session(concurrency, timeout) as session:
            async def exchange(i):
                answer = await session.request("POST", target, data=body(i), headers=headers,
                                               allow_redirects=False)
                try:
                    content = await answer.read()
                finally:
                    answer.release()
                return wamid(answer.status, content)

            if not own_deadline:
                return await _in_flight(count, concurrency, exchange)

            async def one(i):
                task = asyncio.current_task()
                timer = loop.call_later(10, task.cancel)
                try:
                    return await exchange(i)
                finally:
                    timer.cancel()

            return await _in_flight(count, concurrency, one)

    return asyncio.run(main())


def run_aiohttp_layers(url: str, count: int, concurrency: int, level: str) -> tuple[float, float, int]:
    """aiohttp below the session, each call with a timer of its own at its deadline.
    `aiohttp-request`: a `ClientRequest` per call, a connection from the connector,
    the request's `send` and the response's `start` (what `ClientSession._request`
    does, without its merging of defaults, cookies, redirects and timeouts).
    `aiohttp-conn`: the connector's pooled connections only: the request's bytes
    written by us (a prepared head), the answer read by the connection's protocol
    (aiohttp's C parser); one `ClientRequest` per origin serves as the pool's key."""
    import aiohttp
    from yarl import URL

    target = URL(url)
    head = (f"POST {target.raw_path_qs} HTTP/1.1\r\nHost: {target.raw_authority}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items()) + "Content-Length: ").encode("latin-1")

    async def main():
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(sock_connect=10)
        key = aiohttp.ClientRequest("POST", target, loop=loop)

        async def by_request(i):
            req = aiohttp.ClientRequest("POST", target, headers=HEADERS, data=body(i), loop=loop,
                                        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"))
            conn = await connector.connect(req, [], timeout)
            conn.protocol.set_response_params(auto_decompress=False, read_until_eof=True)
            try:
                answer = await req.send(conn)
                await answer.start(conn)
            except BaseException:
                conn.close()
                raise
            try:
                content = await answer.read()
            finally:
                answer.release()
            return wamid(answer.status, content)

        async def by_connection(i):
            data = body(i)
            conn = await connector.connect(key, [], timeout)
            protocol = conn.protocol
            try:
                protocol.set_response_params(auto_decompress=False, read_until_eof=True)
                conn.transport.write(head + str(len(data)).encode() + b"\r\n\r\n" + data)
                message, payload = await protocol.read()
                content = await payload.read()
            except BaseException:
                conn.close()
                raise
            if message.should_close:
                conn.close()
            else:
                conn.release()
            return wamid(message.code, content)

        exchange = by_request if level == "aiohttp-request" else by_connection

        async def one(i):
            timer = loop.call_later(10, asyncio.current_task().cancel)
            try:
                return await exchange(i)
            finally:
                timer.cancel()

        try:
            return await _in_flight(count, concurrency, one)
        finally:
            await connector.close()

    return asyncio.run(main())


def run_httpx_sync(url: str, count: int) -> tuple[float, float, int]:
    import httpx2

    with httpx2.Client(timeout=10, trust_env=False) as client:
        def one(i):
            answer = client.post(url, content=body(i), headers=HEADERS)
            return wamid(answer.status_code, answer.content)
        return _one_at_a_time(count, one)


def run_urllib3_sync(url: str, count: int) -> tuple[float, float, int]:
    import urllib3

    manager = urllib3.PoolManager(retries=False)
    parts = urllib3.util.parse_url(url)
    pool = manager.connection_from_host(parts.host, port=parts.port, scheme=parts.scheme)
    timeout = urllib3.Timeout(connect=10, read=10)

    def one(i):
        raw = pool.urlopen("POST", parts.request_uri, body=body(i), headers=HEADERS, redirect=False,
                           assert_same_host=False, preload_content=True, timeout=timeout)
        return wamid(raw.status, raw.data)

    return _one_at_a_time(count, one)


def run_graph_sync(url: str, count: int) -> tuple[float, float, int]:
    sys.path.insert(0, str(ROOT))
    from apps.providers.meta import http

    def one(i):
        answer = http.run(http.exchange, "POST", url, HEADERS, body(i), 10, pool_size=10)
        return wamid(answer.status_code, answer.content)

    return _one_at_a_time(count, one)


def _one_at_a_time(count: int, one) -> tuple[float, float, int]:
    one(0)
    began = _began()
    errors = sum(1 for i in range(count) if not one(i))
    return _spent(began) + (errors,)


def _began() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _spent(began: tuple[float, float]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) since `began`."""
    return time.process_time() - began[0], time.perf_counter() - began[1]


def client(name: str, url: str, count: int, concurrency: int, tree: str | None) -> None:
    if name == "transport":
        cpu, wall, errors = run_transport(url, count, concurrency, tree)
    elif name == "httpx-async":
        cpu, wall, errors = run_httpx_async(url, count, concurrency)
    elif name == "aiohttp":
        cpu, wall, errors = run_aiohttp(url, count, concurrency)
    elif name in ("aiohttp-request", "aiohttp-conn"):
        cpu, wall, errors = run_aiohttp_layers(url, count, concurrency, name)
    elif name in ("aiohttp-hot", "aiohttp-hot-deadline"):
        cpu, wall, errors = run_aiohttp_hot(url, count, concurrency, name == "aiohttp-hot-deadline")
    elif name == "httpx-sync":
        cpu, wall, errors = run_httpx_sync(url, count)
    elif name == "graph-sync":
        cpu, wall, errors = run_graph_sync(url, count)
    else:
        cpu, wall, errors = run_urllib3_sync(url, count)
    print(json.dumps({"cpu": cpu, "errors": errors, "wall": wall}))


# -- the run ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available(name: str) -> bool:
    module = {"aiohttp": "aiohttp", "aiohttp-hot": "aiohttp", "aiohttp-hot-deadline": "aiohttp",
              "aiohttp-request": "aiohttp", "aiohttp-conn": "aiohttp", "httpx-async": "httpx2", "httpx-sync": "httpx2", "urllib3-sync": "urllib3",
              "graph-sync": "aiohttp"}
    if name not in module:
        return True
    found = subprocess.run([sys.executable, "-c", f"import {module[name]}"], check=False, capture_output=True)
    return found.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 calls (sync: 500) instead of 5,000 (2,000)")
    parser.add_argument("--count", type=int)
    parser.add_argument("--sync-count", type=int)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--clients", default=",".join(ASYNC_CLIENTS + SYNC_CLIENTS))
    parser.add_argument("--tree", help="import the transport from this checkout")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each client, one after the other")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    count = args.count or (1000 if args.quick else 5000)
    sync_count = args.sync_count or (500 if args.quick else 2000)
    if args.client:
        return client(args.client, args.url, count, args.concurrency, args.tree)

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(f"HTTP client CPU per call, loopback, {count} calls ({args.concurrency} in flight) / {sync_count} "
              f"one at a time; load {load}")
        for name in args.clients.split(","):
            if not available(name):
                print(f"  {name:13} not importable: skipped")
                continue
            calls = sync_count if name in SYNC_CLIENTS else count
            for _ in range(args.repeat):
                command = [sys.executable, __file__, "--client", name, "--url",
                           f"http://127.0.0.1:{port}/v23.0/1/messages", "--count", str(calls),
                           "--concurrency", str(args.concurrency)] + (["--tree", args.tree] if args.tree else [])
                result = json.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                                                   text=True).stdout)
                shape = "one at a time" if name in SYNC_CLIENTS else f"{args.concurrency} in flight"
                print(f"  {name:13} {result['cpu'] * 1e6 / calls:7.0f} µs of CPU per call ({shape}; "
                      f"{calls / result['wall']:6.0f} calls/s wall, {result['errors']} errors)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
