"""End to end, WhatsApp calls (Meta's `calls` field, recorded payloads): one message
per call in the thread, incoming, missed or completed with its duration; a
business-initiated call's status; the customer's answer to a call-permission request."""

from datetime import UTC, datetime

import pytest

from apps.conversations.models import Conversation
from apps.messaging.models import Message, MessageType
from apps.providers import events as ev
from apps.providers.meta.parser import parse_webhook
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db


def at(seconds):
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_the_parser_reads_connect_terminate_and_call_statuses():
    (connect,) = parse_webhook(load_fixture("call_connect.json"))
    assert isinstance(connect, ev.CallUpdate)
    assert (
        connect.event,
        connect.direction,
        connect.customer_wa_id,
        connect.profile_name,
    ) == ("connect", "USER_INITIATED", "5511987654321", "Maria Souza")
    (end,) = parse_webhook(load_fixture("call_terminate_completed.json"))
    assert (end.event, end.status, end.duration, end.start_time, end.end_time) == (
        "terminate",
        "COMPLETED",
        115,
        at(1718201010),
        at(1718201125),
    )
    (status,) = parse_webhook(load_fixture("call_status_rejected.json"))
    assert (status.event, status.status, status.direction, status.customer_wa_id) == (
        "status",
        "REJECTED",
        "BUSINESS_INITIATED",
        "5511987654321",
    )


def test_an_answered_call_is_one_message_with_its_duration(deliver, number, published):
    deliver(load_fixture("call_connect.json"))
    call = Message.objects.get()
    assert (call.type, call.direction, call.author_type, call.timestamp) == (
        MessageType.CALL,
        "in",
        "customer",
        at(1718201000),
    )
    assert call.content["outcome"] == "ringing"
    assert [e[0] for e in published] == ["message.created", "conversation.updated"]
    published.clear()
    deliver(load_fixture("call_terminate_completed.json"))
    call.refresh_from_db()
    assert (
        call.content["outcome"],
        call.content["duration"],
        call.content["status"],
    ) == ("completed", 115, "COMPLETED")
    assert [e["event"] for e in call.content["events"]] == ["connect", "terminate"]
    assert [e[0] for e in published] == ["message.updated", "conversation.updated"]
    conversation = Conversation.objects.get()
    assert (conversation.unread_count, conversation.last_customer_message_at) == (
        0,
        None,
    )  # no window
    assert conversation.last_message_preview == "Call"
    published.clear()
    deliver(load_fixture("call_terminate_completed.json"))  # redelivered
    deliver(load_fixture("call_connect.json"))  # late: changes nothing
    call.refresh_from_db()
    assert (
        call.content["outcome"] == "completed"
        and len(call.content["events"]) == 2
        and published == []
    )


def test_a_call_nobody_answered_is_missed(deliver, number):
    deliver(load_fixture("call_missed.json"))
    call = Message.objects.get()
    assert (call.content["outcome"], call.content.get("duration")) == ("missed", None)
    assert Conversation.objects.get().last_message_preview == "Missed call"


def test_a_business_call_the_customer_declined(deliver, number):
    deliver(load_fixture("call_status_rejected.json"))
    call = Message.objects.get()
    assert (call.direction, call.author_type, call.status, call.content["outcome"]) == (
        "out",
        "system",
        "sent",
        "rejected",
    )


def test_the_answer_to_a_call_permission_request_is_stored_and_previewed(
    deliver, number
):
    deliver(load_fixture("interactive_call_permission_reply.json"))
    message = Message.objects.get()
    assert (message.type, message.content["type"]) == (
        "interactive",
        "call_permission_reply",
    )
    assert message.content["call_permission_reply"]["response"] == "accept"
    assert Conversation.objects.get().last_message_preview == "Calls allowed"
