"""Storing customer messages (services.inbound), below the webhook."""

from datetime import UTC, datetime

import pytest

from apps.conversations.models import Conversation
from apps.messaging.models import Message, MessageType
from apps.messaging.services import inbound
from apps.providers.meta.parser import parse_message
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mirror(settings, monkeypatch):
    from apps.media import tasks as media_tasks

    monkeypatch.setattr(media_tasks.mirror_media, "apply_async", lambda *a, **k: None)


def event(kind="text", wamid="wamid.IN1", ts=1718200000, **obj):
    raw = {"from": "5511999990001", "id": wamid, "timestamp": str(ts), "type": kind}
    if obj:
        raw[kind] = obj
    return parse_message(raw, profiles={"5511999990001": {"wa_id": "5511999990001", "name": "Ana"}}, path="t", waba_id="w", phone_number_id="p",
                         display_phone_number="")


@pytest.fixture
def number():
    return WhatsAppNumberFactory()


def test_receive_stores_a_message(number):
    result = inbound.message_receive(number=number, event=event(body="oi"))
    assert result.created is True
    msg = Message.objects.get()
    assert (msg.text, msg.timestamp, msg.conversation.contact.profile_name) == (
        "oi", datetime.fromtimestamp(1718200000, tz=UTC), "Ana")


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_is_caught_by_the_constraint():
    """Two workers store the same message at once: the second does not see the first's
    uncommitted row, waits on the unique constraint, then stores nothing (one row, one
    unread count, created only once)."""
    import threading
    import time

    from django.db import connection, connections, transaction

    number = WhatsAppNumberFactory()
    first_stored, release = threading.Event(), threading.Event()
    results = {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = inbound.message_receive(number=number, event=event(body="oi"))
                first_stored.set()
                release.wait(30)
        finally:
            connections.close_all()

    def second():
        try:
            first_stored.wait(30)
            results["second"] = inbound.message_receive(number=number, event=event(body="oi"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_stored.wait(30)
    # Commit the first only once the second waits for its row lock (its INSERT met the
    # uncommitted row): the race the constraint decides.
    with connection.cursor() as cursor:
        for _ in range(3000):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND datname = current_database()")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(60)

    assert results["first"].created is True
    assert (results["second"].created, results["second"].message) == (False, results["first"].message)
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_a_batch_inserts_its_messages_in_wamid_order(number):
    # Two drains storing the same redelivered messages then wait for each other in one
    # order, never in a cycle (a deadlock, each drain's whole batch undone and tried
    # again: bench/drain_contention.py). The ids tell the order of the inserts.
    events = [event(wamid=f"wamid.IN{i}", ts=1718200000 + i, body=str(i)) for i in (3, 1, 2)]
    assert len(inbound.messages_receive_batch(number=number, events=events)) == 3
    assert list(Message.objects.order_by("pk").values_list("wamid", flat=True)) == [
        "wamid.IN1", "wamid.IN2", "wamid.IN3"]


def test_media_row_is_created_even_without_the_mirror_task(number, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_media_tasks(name, *args, **kwargs):
        if name == "apps.media.tasks":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_media_tasks)
    inbound.message_receive(number=number, event=event("image", id="1001", mime_type="image/png", sha256="ab"))
    msg = Message.objects.get()
    assert (msg.media.meta_media_id, msg.media.state) == ("1001", "pending")


@pytest.mark.parametrize(
    "kind, content, text",
    [
        ("text", {"body": "hello"}, "hello"),
        ("image", {"caption": "c"}, "c"),
        ("document", {"filename": "a.pdf"}, "a.pdf"),
        ("location", {"name": "Home", "address": "Street 1"}, "Home Street 1"),
        ("interactive", {"type": "button_reply", "button_reply": {"id": "1", "title": "Yes"}}, "Yes"),
        ("button", {"payload": "P", "text": "T"}, "T"),
        ("order", {"text": "these"}, "these"),
        ("sticker", {"id": "1"}, ""),
    ],
)
def test_message_text(kind, content, text):
    assert inbound.message_content(kind, content, {})[2] == text


def test_unknown_type_is_kept_raw():
    kind, content, text = inbound.message_content("future", {"a": 1}, {"type": "future", "future": {"a": 1}})
    assert (kind, content, text) == (MessageType.UNSUPPORTED, {"original_type": "future",
                                     "message": {"type": "future", "future": {"a": 1}}}, "")


def test_edit_of_an_unknown_message_is_kept_as_a_message(number):
    edit = event("edit", wamid="wamid.E1", original_message_id="wamid.GONE",
                 message={"type": "text", "text": {"body": "fixed"}})
    inbound.message_receive(number=number, event=edit)
    inbound.message_receive(number=number, event=edit)
    msg = Message.objects.get()
    assert (msg.wamid, msg.text, msg.content["edit_of"]) == ("wamid.E1", "fixed", "wamid.GONE")


def test_an_older_edit_arriving_late_does_not_replace_a_newer_one(number):
    inbound.message_receive(number=number, event=event(body="v1", wamid="wamid.O", ts=100))
    inbound.message_receive(number=number, event=event(
        "edit", wamid="wamid.E2", ts=300, original_message_id="wamid.O", message={"type": "text", "text": {"body": "v3"}}))
    inbound.message_receive(number=number, event=event(
        "edit", wamid="wamid.E1", ts=200, original_message_id="wamid.O", message={"type": "text", "text": {"body": "v2"}}))
    msg = Message.objects.get()
    assert msg.text == "v3"
    assert [h["text"] for h in msg.edit_history] == ["v1", "v2"]


def test_revoke_of_an_unknown_message_changes_nothing(number):
    assert inbound.message_revoke_receive(number=number, event=event("revoke", original_message_id="wamid.X")) is None
    assert Message.objects.count() == 0
