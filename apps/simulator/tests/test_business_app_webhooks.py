"""The simulator sends the WhatsApp Business app's fields (echoes, history, the
address book), calls, and statuses with Meta's per-message pricing, signed, over real HTTP to
the product's own webhook (live_server); the drain stores what they say."""

import time

import pytest

from apps.conversations.models import Contact, Conversation
from apps.conversations.tests.factories import ConversationFactory
from apps.inbound.models import WebhookEvent
from apps.inbound.services import webhook_events_drain
from apps.messaging.callback_data import callback_data
from apps.messaging.models import Message
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.providers.meta.client import client_for
from apps.simulator import webhooks
from apps.simulator.models import SimulatedTemplate, SimulatorConfig
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "5511987654321"


@pytest.fixture
def number(simulator, settings):
    settings.SIMULATOR_WEBHOOK_URL = f"{simulator.url}/webhooks/whatsapp/"
    return WhatsAppNumberFactory(
        app_secret="s3cret", display_phone_number="+1 555-078-3881"
    )


def drained(count: int) -> None:
    """Wait until `count` deliveries are stored (the simulator posts from a thread), then drain."""
    deadline = time.monotonic() + 20
    while WebhookEvent.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert WebhookEvent.objects.count() == count
    # The webhook's own wake-up may be draining a delivery in the server's thread (our
    # drain skips what it holds): drain until every delivery is processed.
    while True:
        webhook_events_drain()
        statuses = set(WebhookEvent.objects.values_list("status", flat=True))
        if statuses == {"processed"} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert statuses == {"processed"}


def post(number, body) -> None:
    assert webhooks.post_signed(body, webhooks.secret_for(number)) == 200


def test_a_template_s_statuses_carry_its_pricing_category(number):
    SimulatorConfig.objects.filter(pk=1).update(
        send_status_webhooks=True, status_delay=0, mark_read=False
    )
    SimulatedTemplate.objects.create(
        waba_id=number.waba_id,
        name="promo",
        language="pt_BR",
        category="MARKETING",
        status="APPROVED",
        components=[],
    )
    message = OutboundMessageFactory(
        conversation=ConversationFactory(
            organization=number.organization, number=number
        ),
        status="pending",
    )
    client_for(number).send_message(
        {
            "to": CUSTOMER,
            "type": "template",
            "biz_opaque_callback_data": callback_data(message.pk),
            "template": {"name": "promo", "language": {"code": "pt_BR"}},
        }
    )
    drained(2)  # sent, delivered
    message.refresh_from_db()
    assert (
        message.status,
        message.pricing_model,
        message.pricing_type,
        message.pricing_category,
        message.billable,
    ) == ("delivered", "PMP", "regular", "marketing", True)


def test_echo_history_and_address_book_through_the_simulator(number):
    post(
        number,
        webhooks.history_body(
            number,
            threads={
                CUSTOMER: [
                    {
                        "wamid": "wamid.H1",
                        "outbound": False,
                        "timestamp": 1717000000,
                        "content": {"body": "Oi"},
                    },
                    {
                        "wamid": "wamid.H2",
                        "outbound": True,
                        "timestamp": 1717000060,
                        "content": {"body": "Olá!"},
                        "status": "DELIVERED",
                    },
                ]
            },
        ),
    )
    post(
        number,
        webhooks.echo_body(
            number,
            customer=CUSTOMER,
            wamid="wamid.E1",
            type="text",
            content={"body": "Enviado do celular"},
        ),
    )
    post(
        number,
        webhooks.address_book_body(
            number, changes=[(CUSTOMER, "add", "Maria da Loja")]
        ),
    )
    drained(3)
    rows = {
        m.wamid: (m.direction, m.author_type, m.status, m.imported)
        for m in Message.objects.all()
    }
    assert rows == {
        "wamid.H1": ("in", "customer", "received", True),
        "wamid.H2": ("out", "business_app", "delivered", True),
        "wamid.E1": ("out", "business_app", "sent", False),
    }
    # The imported chat is filed resolved; the echo, like any message the business starts, opens one.
    imported, opened = Conversation.objects.order_by("pk")
    assert (imported.status, opened.status) == ("resolved", "open")
    assert Message.objects.get(wamid="wamid.E1").conversation_id == opened.pk
    assert [c.last_customer_message_at for c in (imported, opened)] == [None, None]
    assert [c.unread_count for c in (imported, opened)] == [0, 0]
    assert Contact.objects.get().name == "Maria da Loja"


def test_a_call_through_the_simulator(number):
    post(
        number,
        webhooks.call_body(
            number,
            customer=CUSTOMER,
            call_id="wacid.S1",
            event="connect",
            timestamp=1718201000,
        ),
    )
    post(
        number,
        webhooks.call_body(
            number,
            customer=CUSTOMER,
            call_id="wacid.S1",
            event="terminate",
            start=1718201005,
            end=1718201065,
        ),
    )
    post(
        number,
        webhooks.call_body(
            number,
            customer=CUSTOMER,
            call_id="wacid.S2",
            event="terminate",
            timestamp=1718202000,
        ),
    )
    drained(3)
    answered, missed = Message.objects.order_by("timestamp")
    assert (
        answered.wamid,
        answered.content["outcome"],
        answered.content["duration"],
    ) == ("wacid.S1", "completed", 60)
    assert (missed.wamid, missed.content["outcome"], missed.direction) == (
        "wacid.S2",
        "missed",
        "in",
    )
