"""End to end: signed POST → 200 → drain (run on commit) → rows and live events.
Statuses of the business's messages."""

import pytest

from apps.inbound.tests.helpers import outbound_to_customer
from apps.messaging.models import Message, Status
from apps.whatsapp.tests.utils import envelope, load_fixture, messages_change, status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_media_download(mirrored):
    """The media app's own tests download files; here only the hand-over is checked."""


def only_message():
    return Message.objects.get()


def _statuses(number, *items):
    return envelope(messages_change(phone_number_id=number.phone_number_id, statuses=list(items)))


def test_statuses_move_forward_and_keep_every_time(deliver, number, published):
    msg = outbound_to_customer(number, status=Status.PENDING)
    deliver(load_fixture("statuses.json"))
    msg.refresh_from_db()
    assert msg.status == Status.READ
    assert (msg.sent_at.timestamp(), msg.delivered_at.timestamp(), msg.read_at.timestamp()) == (
        1718200010, 1718200011, 1718200012)
    assert msg.pricing == {"billable": True, "pricing_model": "PMP", "category": "service"}
    assert msg.meta_conversation["id"] == "b1c9a3e5f2d94b7e8a0c6d4f3e2a1b0c"
    assert [e[0] for e in published] == ["message.updated"] * 3
    published.clear()
    deliver(load_fixture("statuses.json"))  # the same statuses again change nothing
    assert published == []


def test_statuses_out_of_order_never_step_back(deliver, number):
    msg = outbound_to_customer(number, status=Status.SENT)
    deliver(_statuses(number, status(msg.wamid, "read", timestamp=1718200012)))
    deliver(_statuses(number, status(msg.wamid, "delivered", timestamp=1718200011)))
    deliver(_statuses(number, status(msg.wamid, "sent", timestamp=1718200010)))
    msg.refresh_from_db()
    assert msg.status == Status.READ
    assert msg.delivered_at.timestamp() == 1718200011
    assert msg.read_at.timestamp() == 1718200012


def test_failed_status_keeps_metas_error(deliver, number):
    msg = outbound_to_customer(number, status=Status.SENT)
    deliver(load_fixture("status_failed.json"))
    msg.refresh_from_db()
    assert msg.status == Status.FAILED
    assert (msg.error_code, msg.error_title) == (131047, "Re-engagement message")
    assert msg.error_message == "Re-engagement message"
    assert "24 hours" in msg.error_details
    assert msg.failed_at.timestamp() == 1718200020


def test_played_status(deliver, number):
    msg = outbound_to_customer(number, status=Status.READ)
    deliver(load_fixture("status_played.json"))
    msg.refresh_from_db()
    assert (msg.status, msg.played_at.timestamp()) == (Status.PLAYED, 1718200030)


def test_status_for_an_unknown_wamid_waits_and_is_applied(deliver, number):
    from apps.messaging.models import PendingStatus
    from apps.messaging.services.statuses import status_apply_pending

    deliver(load_fixture("statuses.json"))
    deliver(load_fixture("statuses.json"))
    assert sorted(PendingStatus.objects.values_list("status", flat=True)) == ["delivered", "read", "sent"]
    msg = outbound_to_customer(number, wamid=None, status=Status.PENDING)
    msg.wamid = "wamid.OUTBOUND_TEXT_0001"
    msg.save()
    status_apply_pending(message=msg)
    msg.refresh_from_db()
    assert msg.status == Status.READ
    assert msg.sent_at.timestamp() == 1718200010
    assert PendingStatus.objects.count() == 0


# --- Routing, batches, failures --------------------------------------------------------------
