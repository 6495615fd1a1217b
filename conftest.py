"""Root fixtures. Tasks go through a broker of the test suite (tests/taskqueue.py)
unless a test starts real workers (`real_broker`); every external peer is real and
local (see tests/peers)."""

import pytest

from tests import flush, taskqueue


@pytest.fixture(autouse=True, scope="session")
def _cheap_flush():
    """A transactional test's flush, cheaper and leaving the same (tests/flush.py)."""
    flush.install()
    yield
    flush.uninstall()


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Password hashing is deliberately slow; tests need it correct, not slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests change numbers and organisations between deliveries and roll them back:
    # the inbound worker's number cache has tests of its own.
    settings.INBOUND_NUMBER_CACHE_SECONDS = 0
    # Likewise the simulator's settings and numbers (its cache has tests of its own).
    settings.SIMULATOR_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def task_queue(monkeypatch):
    """The tasks sent during the test (tests/taskqueue.py): the ones with no delay
    ran when sent; `task_queue.delayed` holds the others until `run_delayed()`."""
    return taskqueue.install(monkeypatch)


@pytest.fixture
def real_broker(monkeypatch, task_queue):
    """Celery's own apply_async to the real broker, and the inbound worker's real
    wake-up (for tests that start worker processes)."""
    taskqueue.uninstall(monkeypatch)


@pytest.fixture
def published():
    """The live events published during the test, as (event, data, groups)."""
    from apps.realtime import publish

    events = []

    def listener(event_type, data, groups):
        events.append((event_type, data, groups))

    publish._listeners.append(listener)
    yield events
    publish._listeners.remove(listener)


@pytest.fixture
def deliveries(monkeypatch):
    """Each delivery of live events during the test (one per commit, or one per
    `publish.gathered()` block), as its list of (event, data, groups)."""
    from apps.realtime import publish

    calls = []
    real = publish._send_many

    def spy(events):
        calls.append(list(events))
        real(events)

    monkeypatch.setattr(publish, "_send_many", spy)
    return calls


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, with the connections that threads of the tests
    (live servers, the ASGI server's thread pool) left open ended before the database is
    dropped: PostgreSQL waits 5 s for them to leave and then refuses to drop it."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
