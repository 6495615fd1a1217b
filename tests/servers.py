"""pytest plugin, loaded with `-p tests.servers` (pytest.ini) before pytest-django imports
the settings (which happens before the root conftest.py is imported).

Without DATABASE_URL / REDIS_URL the tests run on embedded servers of their own, under
var/test (apps/core/servers.py; a PostgreSQL data directory created without fsync: test
data is recreated, the demo's var/ is never touched), and the URLs are exported so that
xdist workers and the processes tests start use the same servers. CI gives the machine's.

Each pytest-xdist worker gwN gets its own database on the server (pytest-django adds the
_gwN suffix) and its own Redis database, N+1, for everything REDIS_URL serves (channel
layer, cache, replay log, presence, rate limits, the broker), flushed at the session's
start so that no state is left from another run or shared with another worker.
"""

import os
import re
from pathlib import Path

TEST_VAR_DIR = Path(__file__).resolve().parent.parent / "var" / "test"


def _redis_db(url, index):
    """The URL with its database number replaced (redis://host:port/N)."""
    url, _sep, query = url.partition("?")
    url = re.sub(r"(redis[s]?://[^/]*)(/\d*)?$", rf"\g<1>/{index}", url)
    return url + (f"?{query}" if query else "")


_embedded = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
if _embedded:
    from apps.core import servers

    os.environ["DATABASE_URL"] = servers.database_url(durable=False, root=TEST_VAR_DIR)
    os.environ["REDIS_URL"] = servers.redis_url(durable=False, root=TEST_VAR_DIR)

_worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1... in an xdist worker only
if _worker:
    _index = int(_worker.removeprefix("gw")) + 1
    for _name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(_name):
            os.environ[_name] = _redis_db(os.environ[_name], _index)


def pytest_sessionstart(session):
    # A worker's own Redis database, or the embedded server's database of a serial run.
    if not (_worker or _embedded):
        return
    import redis

    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name):
            client = redis.Redis.from_url(os.environ[name])
            try:
                client.flushdb()
            finally:
                client.close()
