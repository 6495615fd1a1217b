"""No page silently behind: events lost between a commit and their publish (the
process killed, or Redis down) reset the pages that reconnect and the sockets that
stayed connected (apps/realtime/publishers.py, apps/live/epoch.py). On the real Redis,
with a real process killed by SIGKILL."""

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.db import connection

from apps.conversations.services import conversation_publish
from apps.conversations.tests.factories import ConversationFactory
from apps.live import epoch as epochs
from apps.realtime import groups, publishers, replay
from apps.realtime import publish as publish_module
from apps.realtime.publish import publish

from .conftest import drain, open_socket, session_cookie
from .helpers import redis_down_for_one_publish

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]

# Commits a change of the conversation with its event, and is killed by the commit's
# first callback, before publish()'s own: the event is committed and never handed over.
KILLED_PUBLISHER = """
import os, signal, sys
import django
django.setup()
from django.db import transaction
from django.utils import timezone
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_publish
conversation = Conversation.objects.get(pk=int(sys.argv[1]))
with transaction.atomic():
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    if sys.argv[2] == "kill":
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    conversation_publish(conversation)
from apps.realtime import publishers
print(publishers._member)
"""


def _publisher_process(conversation_id: int, how: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    socket_dir = db.get("OPTIONS", {}).get("host")
    if not db["HOST"] and socket_dir:
        url = f"postgres://{auth}@/{db['NAME']}?host={quote(socket_dir)}"
    else:
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url,
           "REDIS_URL": django_settings.REDIS_URL, "SECRET_KEY": django_settings.SECRET_KEY,
           "FIELD_ENCRYPTION_KEY": ",".join(django_settings.FIELD_ENCRYPTION_KEYS)}
    return subprocess.run([sys.executable, "-c", KILLED_PUBLISHER, str(conversation_id), how], cwd=ROOT, env=env,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture
def quick(monkeypatch):
    """Dead after 1.5 s of silence, checked every 0.2 s (this process beats every 0.1 s,
    so it never looks dead itself)."""
    monkeypatch.setattr(publishers, "DEAD_AFTER_SECONDS", 1.5)
    monkeypatch.setattr(publishers, "BEAT_SECONDS", 0.1)
    monkeypatch.setattr(epochs, "CHECK_SECONDS", 0.2)
    publishers.join()


class _Noted(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.text = ""

    def emit(self, record):
        self.text += record.getMessage() + "\n"


@pytest.fixture
def noted():
    """The warnings of publishers.py (its logger may not propagate to pytest's)."""
    handler = _Noted()
    logger = logging.getLogger("apps.realtime.publishers")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def _until(comm, event: str, timeout: float = 60) -> list[dict]:
    """The frames up to the first `event` (the timeout only ends a hung test)."""
    frames = []
    async with asyncio.timeout(timeout):
        while True:
            frames.append(await comm.receive_json_from(timeout=timeout))
            if frames[-1]["event"] == event:
                return frames


def test_a_publisher_killed_between_commit_and_publish_resets_a_connected_page(world, quick, noted):
    """The page was up to date when the process died holding its event: it is told
    to reload, never left behind."""
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(world["supervisor"])

    async def scenario():
        comm, frames = await open_socket(cookie)
        assert frames[-1]["event"] == "catch_up.done"
        await drain(comm)
        done = await database_sync_to_async(_publisher_process)(conversation.pk, "kill")
        assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
        frames = await _until(comm, "catch_up.reset")
        await comm.disconnect()
        return frames, done

    frames, _done = async_to_sync(scenario)()
    assert "conversation.updated" not in [f["event"] for f in frames]  # the event itself is lost
    assert "stopped without leaving" in noted.text


def test_a_page_reconnecting_after_a_publisher_was_killed_is_reset(world, quick, noted):
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(world["supervisor"])

    async def scenario():
        comm, _ = await open_socket(cookie)
        await drain(comm)
        await database_sync_to_async(publish)("contact.updated", {"id": conversation.contact_id},
                                              groups=[groups.user(world["supervisor"].id)])
        frames = await _until(comm, "contact.updated")
        cursor = frames[-1]["id"]
        await comm.disconnect()
        done = await database_sync_to_async(_publisher_process)(conversation.pk, "kill")
        assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
        # Whoever looks next (here this process's check, as the epoch watch or a
        # publisher's beat would) sees it dead.
        async with asyncio.timeout(60):
            while "stopped without leaving" not in noted.text:
                await asyncio.to_thread(publishers.check)
                await asyncio.sleep(0.2)
        comm, frames = await open_socket(cookie, since=cursor)
        await comm.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert frames[-1]["event"] == "catch_up.reset"


def test_a_clean_exit_leaves_the_list_and_moves_nothing(world, quick, noted):
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    before = publishers.check()
    done = _publisher_process(conversation.pk, "exit")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    member = done.stdout.decode().strip()
    assert f":{member.split(':')[1]}:" in member  # host:pid:token
    assert replay.get_log().redis.zscore(publishers.KEY, member) is None
    assert publishers.check() == before
    assert "stopped without leaving" not in noted.text


def test_a_publish_failing_while_redis_is_down_resets_a_page_connected_before(world, quick, monkeypatch):
    """The page reconnected (up to date) before the publish failed: it is told to
    reload as soon as the epoch moves, not left behind."""
    import redis

    async def refused(layer, batch):
        raise redis.ConnectionError("Redis is restarting")

    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(world["supervisor"])

    async def scenario():
        comm, frames = await open_socket(cookie)
        assert frames[-1]["event"] == "catch_up.done"
        await drain(comm)

        def outage():
            redis_down_for_one_publish(monkeypatch)  # its log append fails,
            monkeypatch.setattr(publish_module, "_redis_send_batch", refused)  # and its delivery
            conversation_publish(conversation)  # lost: Redis down

        await database_sync_to_async(outage)()
        frames = await _until(comm, "catch_up.reset")
        await comm.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert "conversation.updated" not in [f["event"] for f in frames]  # the event itself is lost


def test_the_first_event_after_the_epoch_moved_resets_a_connected_page(world, monkeypatch):
    """Without waiting for the watch: the event carries the epoch it was appended in."""
    monkeypatch.setattr(epochs, "CHECK_SECONDS", 3600)
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(world["supervisor"])

    async def scenario():
        comm, _ = await open_socket(cookie)
        await drain(comm)
        await asyncio.sleep(0.005)
        await asyncio.to_thread(replay.get_log().move_epoch)  # as a process that lost events does
        await database_sync_to_async(conversation_publish)(conversation)
        frames = await _until(comm, "conversation.updated")
        await comm.disconnect()
        return frames

    events = [f["event"] for f in async_to_sync(scenario)()]
    assert events.index("catch_up.reset") < events.index("conversation.updated")


def test_a_page_that_started_after_the_move_is_not_reset(world, monkeypatch):
    monkeypatch.setattr(epochs, "CHECK_SECONDS", 0.2)
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(world["supervisor"])
    replay.get_log().move_epoch()

    async def scenario():
        comm, _ = await open_socket(cookie)
        await drain(comm)
        await database_sync_to_async(conversation_publish)(conversation)
        frames = await _until(comm, "conversation.updated")
        frames += await drain(comm, timeout=1.0)  # five watch checks
        await comm.disconnect()
        return frames

    assert "catch_up.reset" not in [f["event"] for f in async_to_sync(scenario)()]
