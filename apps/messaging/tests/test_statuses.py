"""Delivery statuses: monotonic, idempotent, waiting for their message."""

from datetime import UTC, datetime

import pytest

from apps.messaging.models import Message, PendingStatus, Status
from apps.messaging.services.statuses import status_apply, status_apply_pending
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.providers.meta.parser import parse_status

pytestmark = pytest.mark.django_db


def update(wamid, state, ts, **extra):
    item = {"id": wamid, "status": state, "timestamp": str(ts), "recipient_id": "5511999990001", **extra}
    return parse_status(item, path="t", waba_id="w", phone_number_id="p", display_phone_number="")


def at(ts):
    return datetime.fromtimestamp(ts, tz=UTC)


@pytest.fixture
def sent():
    return OutboundMessageFactory(wamid="wamid.S1", status=Status.SENT, sent_at=at(100))


def test_forward_moves_apply(sent, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert status_apply(number=sent.number, update=update("wamid.S1", "delivered", 110)) == "applied"
        assert status_apply(number=sent.number, update=update("wamid.S1", "read", 120)) == "applied"
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_at, sent.read_at) == (Status.READ, at(110), at(120))
    assert [e[0] for e in published] == ["message.updated", "message.updated"]
    assert published[-1][1]["status"] == "read"


def test_a_late_status_fills_its_time_but_never_steps_back(sent):
    status_apply(number=sent.number, update=update("wamid.S1", "read", 120))
    assert status_apply(number=sent.number, update=update("wamid.S1", "delivered", 110)) == "applied"
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_at, sent.read_at) == (Status.READ, at(110), at(120))


def test_the_same_status_twice_changes_nothing(sent, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        status_apply(number=sent.number, update=update("wamid.S1", "delivered", 110))
    assert len(published) == 1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert status_apply(number=sent.number, update=update("wamid.S1", "delivered", 110)) == "duplicate"
        assert status_apply(number=sent.number, update=update("wamid.S1", "sent", 100)) == "duplicate"
    assert callbacks == []
    assert len(published) == 1


def test_failed_keeps_the_error(sent):
    errors = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
               "error_data": {"details": "Receiver is incapable of receiving this message"}}]
    status_apply(number=sent.number, update=update("wamid.S1", "failed", 130, errors=errors))
    sent.refresh_from_db()
    assert (sent.status, sent.failed_at, sent.error_code, sent.error_title) == (
        Status.FAILED, at(130), 131026, "Message undeliverable")
    assert sent.error_details == "Receiver is incapable of receiving this message"


UNDELIVERABLE = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}]


@pytest.mark.parametrize("state", ["delivered", "read", "played"])
def test_a_late_failed_never_turns_a_message_the_customer_has_into_failed(sent, state):
    status_apply(number=sent.number, update=update("wamid.S1", state, 120))
    assert status_apply(number=sent.number, update=update("wamid.S1", "failed", 110, errors=UNDELIVERABLE)) == "ignored"
    sent.refresh_from_db()
    assert sent.status == state
    assert (sent.failed_at, sent.error_code, sent.error_title) == (None, None, "")


@pytest.mark.parametrize("state", ["delivered", "read", "played"])
def test_delivered_or_read_after_failed_shows_what_the_customer_has(sent, state, published,
                                                                   django_capture_on_commit_callbacks):
    status_apply(number=sent.number, update=update("wamid.S1", "failed", 110, errors=UNDELIVERABLE))
    with django_capture_on_commit_callbacks(execute=True):
        assert status_apply(number=sent.number, update=update("wamid.S1", state, 120)) == "applied"
    sent.refresh_from_db()
    assert sent.status == state
    assert published[-1][1]["status"] == state
    # What Meta said of the failure stays on the row, with its time.
    assert (sent.failed_at, sent.error_code) == (at(110), 131026)


def test_sent_after_failed_leaves_it_failed(sent):
    """Meta reports sent, then failed (undeliverable): a late "sent" proves nothing."""
    status_apply(number=sent.number, update=update("wamid.S1", "failed", 110, errors=UNDELIVERABLE))
    assert status_apply(number=sent.number, update=update("wamid.S1", "sent", 100)) == "duplicate"
    sent.refresh_from_db()
    assert sent.status == Status.FAILED


def test_pricing_and_conversation_are_kept(sent):
    pricing = {"billable": True, "pricing_model": "PMP", "category": "utility"}
    conversation = {"id": "c1", "origin": {"type": "utility"}}
    status_apply(number=sent.number, update=update("wamid.S1", "delivered", 110, pricing=pricing,
                                                   conversation=conversation))
    sent.refresh_from_db()
    assert (sent.pricing, sent.meta_conversation) == (pricing, conversation)


def test_a_status_of_another_number_is_not_applied(sent):
    other = OutboundMessageFactory(status=Status.SENT).number
    assert status_apply(number=other, update=update("wamid.S1", "read", 120)) == "pending"
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_unknown_status_is_ignored(sent):
    assert status_apply(number=sent.number, update=update("wamid.S1", "warning", 120)) == "ignored"
    assert PendingStatus.objects.count() == 0


def test_pending_statuses_apply_in_order_when_the_wamid_is_stored(published):
    message = OutboundMessageFactory(status=Status.PENDING, wamid=None)
    number = message.number
    for state, ts in (("read", 120), ("sent", 100), ("delivered", 110), ("read", 120)):
        assert status_apply(number=number, update=update("wamid.LATER", state, ts)) == "pending"
    assert PendingStatus.objects.count() == 3
    message.wamid = "wamid.LATER"
    message.save(update_fields=["wamid"])
    status_apply_pending(message=message)
    assert (message.status, message.sent_at, message.delivered_at, message.read_at) == (
        Status.READ, at(100), at(110), at(120))
    assert PendingStatus.objects.count() == 0


def test_status_apply_pending_without_waiting_statuses_does_nothing(django_assert_num_queries):
    message = OutboundMessageFactory(status=Status.SENT, wamid="wamid.X")
    with django_assert_num_queries(1):
        status_apply_pending(message=message)
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_batch_of_statuses_ends_exactly_as_applying_them_one_by_one(published, django_capture_on_commit_callbacks):
    # Two numbers with the same outbound messages in the same states; the same status
    # webhooks applied as one batch on the first and one by one on the second must
    # leave the same rows, the same outcomes, the same pending statuses and the same
    # number of live events.
    from django.db import transaction

    from apps.conversations.tests.factories import ConversationFactory
    from apps.messaging.services.statuses import statuses_apply

    pricing = {"billable": True, "pricing_model": "CBP", "category": "service"}
    failed = [{"code": 131026, "title": "Message undeliverable", "message": "Undeliverable",
               "error_data": {"details": "not on WhatsApp"}}]
    starts = {  # wamid suffix -> (status, sent_at, delivered_at, read_at, pricing)
        "sent": (Status.SENT, at(100), None, None, None),
        "read": (Status.READ, at(100), None, at(130), pricing),
        "pending": (Status.PENDING, None, None, None, None),
        "delivered": (Status.DELIVERED, at(100), at(110), None, None),
        "twice": (Status.SENT, at(100), None, None, None),
        "failing": (Status.SENT, at(100), None, None, None),
    }
    updates = [  # (wamid suffix, status, time, extra)
        ("sent", "delivered", 110, {"pricing": pricing, "conversation": {"id": "c1", "origin": {"type": "service"}}}),
        ("read", "delivered", 120, {"pricing": {"billable": False}}),  # late: time only, no step back
        ("pending", "sent", 100, {}),
        ("delivered", "delivered", 110, {}),  # the same status again: nothing
        ("twice", "read", 140, {}),
        ("twice", "delivered", 120, {}),  # a second status for a wamid of the batch
        ("failing", "failed", 150, {"errors": failed}),
        ("unknown", "read", 160, {}),  # no such message yet: waits
        ("sent", "warning", 170, {}),  # not a status we know
    ]
    outcomes, rows = {}, {}
    for mode in ("batch", "single"):
        conversation = ConversationFactory()
        number = conversation.number
        for suffix, (state, sent_at, delivered_at, read_at, price) in starts.items():
            OutboundMessageFactory(conversation=conversation, wamid=f"wamid.{suffix}", status=state, sent_at=sent_at,
                                   delivered_at=delivered_at, read_at=read_at, pricing=price)
        items = [update(f"wamid.{suffix}", state, ts, **extra) for suffix, state, ts, extra in updates]
        before = len(published)
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                if mode == "batch":
                    outcomes[mode] = statuses_apply(number=number, updates=items)
                else:
                    outcomes[mode] = [status_apply(number=number, update=item) for item in items]
        events = sorted(data["wamid"] for event, data, _ in published[before:] if event == "message.updated")
        fields = ("wamid", "status", "sent_at", "delivered_at", "read_at", "failed_at", "pricing",
                  "meta_conversation", "error_code", "error_title", "error_message", "error_details")
        rows[mode] = (
            sorted(Message.objects.filter(number=number).values_list(*fields)),
            sorted(PendingStatus.objects.filter(number=number).values_list("wamid", "status")),
            events,
        )
    assert outcomes["batch"] == outcomes["single"] == [
        "applied", "applied", "applied", "duplicate", "applied", "applied", "applied", "pending", "ignored"]
    assert rows["batch"] == rows["single"]
    statuses = {row[0]: row[1] for row in rows["batch"][0]}
    assert statuses == {"wamid.sent": "delivered", "wamid.read": "read", "wamid.pending": "sent",
                        "wamid.delivered": "delivered", "wamid.twice": "read", "wamid.failing": "failed"}
