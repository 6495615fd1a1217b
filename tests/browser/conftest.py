"""Browser tests: Playwright for Python driving Debian's Chromium (headless).

Chromium is found at $CHROMIUM_PATH or /usr/bin/chromium. Without it the tests
are skipped, except in CI (CI=true), where a missing browser is a failure.
Screenshots go to the project's tmp/ folder, kept as CI artifacts.
"""

import os
import shutil
from pathlib import Path

import pytest

from apps.simulator.testing import simulator  # noqa: F401  (a fixture inbox_servers uses)

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "browser"

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if path and os.path.exists(path) else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# Module scope, not session: Playwright's sync API keeps an event loop running in
# the test thread while it lives, which later async_to_sync() calls refuse.
@pytest.fixture(scope="module")
def chromium():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (Debian package chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


# --- The ASGI app (HTTP + websockets) served in-process ------------------------------
#
# pytest-django's live_server is WSGI: no websockets. `asgi_server` serves
# config.asgi:application with uvicorn in a background thread of this process, so it
# sees the test database (the tests that use it are transactional: the server's
# thread opens connections of its own and must see committed data).
#
# All of the app's synchronous work (views, the consumer's ORM calls, tasks run
# when sent, on commit: tests/taskqueue.py) runs on ONE thread: the server runs inside a ThreadSensitiveContext
# with a single-thread executor, which every request and consumer inherits; that
# thread opens its own database connections.
#
# Because that thread does everything in turn, the Graph API must NOT be served by the
# same server (a send would wait for itself): point GRAPH_API_BASE at live_server's
# simulator (apps.simulator.testing.simulator) and the simulator's webhooks at this
# server (SIMULATOR_WEBHOOK_URL), as `inbox_servers` does.


class AsgiServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port = None
        self.thread = None
        self.server = None
        self.loop = None
        self.error = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        import socket
        import threading
        import time
        from concurrent.futures import ThreadPoolExecutor

        import uvicorn
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from config.asgi import application

        with socket.socket() as sock:
            sock.bind((self.host, 0))
            self.port = sock.getsockname()[1]
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asgi-sync")
        # A channels-redis layer binds its receiving side to the first event loop that
        # receives on it; each server has a loop of its own, so it gets a layer of its own
        # (a previous server's late receive would otherwise refuse every new socket).
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        config = uvicorn.Config(
            ASGIStaticFilesHandler(application), host=self.host, port=self.port, log_level="warning",
            lifespan="off", ws="websockets-sansio", access_log=False,
            # A connection still open at the end (a page's socket closing late) is
            # cancelled after this, rather than holding the test's teardown.
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="asgi-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"the ASGI server did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the ASGI server did not start in time")
            time.sleep(0.02)

    def _close_connections(self) -> None:
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close()

    def _run(self) -> None:
        import asyncio

        from asgiref.sync import ThreadSensitiveContext, sync_to_async

        async def serve():
            async with ThreadSensitiveContext(executor=self.executor):
                try:
                    await self.server.serve()
                finally:
                    # What the app left running (consumers' heartbeats, late disconnects)
                    # ends here, before this thread's database connections are closed.
                    current = asyncio.current_task()
                    leftovers = [task for task in asyncio.all_tasks() if task is not current]
                    for task in leftovers:
                        task.cancel()
                    await asyncio.gather(*leftovers, return_exceptions=True)
                    await sync_to_async(self._close_connections, thread_sensitive=True)()

        try:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(serve())
        except BaseException as error:  # reported by start() or stop()
            self.error = error
        finally:
            if self.loop is not None:
                self.loop.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.executor.shutdown(wait=True)


@pytest.fixture
def asgi_server(transactional_db):
    """config.asgi:application (HTTP and /ws/inbox/) on a free loopback port; `.url`."""
    server = AsgiServer()
    server.start()
    _replay_log_started()
    yield server
    server.stop()


def _replay_log_started() -> None:
    """Start the live replay log's epoch now if no event has started it yet. On an empty
    log the first publish sets the epoch, so a page rendered before it (its cursor older)
    would be told to reload on its first catch-up, in the middle of what the test does."""
    import time

    from apps.realtime import replay

    log = replay.get_log()
    log.redis.set(replay.EPOCH_KEY, replay.format_id((int(time.time() * 1000), 0)), nx=True)


@pytest.fixture
def inbox_servers(asgi_server, simulator, settings):
    """The inbox on `asgi_server`, the Graph API simulator on live_server, and the
    simulator's status webhooks (sent, delivered, read) posted back to the inbox."""
    from apps.simulator.models import SimulatorConfig
    from apps.whatsapp.secrets import clear_secrets_cache

    settings.SITE_URL = asgi_server.url
    settings.SIMULATOR_WEBHOOK_URL = f"{asgi_server.url}/webhooks/whatsapp/"
    SimulatorConfig.objects.filter(pk=1).update(send_status_webhooks=True, mark_read=True, status_delay=0.2)
    clear_secrets_cache()
    yield asgi_server
    clear_secrets_cache()
    # Drop the Graph client's kept-alive connections, so live_server's threads end and
    # release their database connections (PostgreSQL cannot drop a database in use).
    from apps.providers.meta import http

    http.reset()


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def new_page(chromium, request):
    """Pages in contexts of their own (one per signed-in person); screenshots on teardown."""
    contexts = []

    def make(viewport=None):
        context = chromium.new_context(viewport=viewport or {"width": 1280, "height": 800})
        contexts.append(context)
        return context.new_page()

    yield make
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for index, context in enumerate(contexts):
        for page in context.pages:
            try:
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{index}.png"), full_page=True)
            except Exception:  # a page that crashed still lets the others be saved
                pass
        context.close()
