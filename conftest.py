"""Root fixtures. Tasks run inline on commit (TASK_RUNNER=eager) unless a test
starts a real worker; every external peer is real and local (see tests/peers)."""

import os

# Before Django's settings load: tests run tasks inline unless told otherwise.
os.environ.setdefault("TASK_RUNNER", "eager")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # Settings may have been read before this module set the environment (pytest-django
    # loads them early), so the test defaults are also forced here.
    settings.TASK_RUNNER = "eager"
    settings.MEDIA_ROOT = tmp_path / "media"
    # Password hashing is deliberately slow; tests need it correct, not slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests change numbers and organisations between deliveries and roll them back:
    # the inbound worker's number cache has tests of its own.
    settings.INBOUND_NUMBER_CACHE_SECONDS = 0
    # Likewise the simulator's settings and numbers (its cache has tests of its own).
    settings.SIMULATOR_CACHE_SECONDS = 0


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
