"""Meta's per-message pricing (since July 2025) in status webhooks, stored in the
message's columns: recorded payloads and the simulator's statuses."""

import pytest

from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator import webhooks as simulated
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db


def sent(number, wamid):
    return OutboundMessageFactory(
        conversation=ConversationFactory(
            organization=number.organization, number=number
        ),
        wamid=wamid,
        status="pending",
    )


def test_the_pricing_of_each_status_is_stored_in_columns(deliver, number):
    statuses = load_fixture("status_pricing_per_message.json")["entry"][0]["changes"][
        0
    ]["value"]["statuses"]
    for item in statuses:
        sent(number, item["id"])
    deliver(load_fixture("status_pricing_per_message.json"))
    found = {
        m.wamid: (
            m.status,
            m.pricing_model,
            m.pricing_type,
            m.pricing_category,
            m.billable,
        )
        for m in Message.objects.all()
    }
    assert [found[item["id"]] for item in statuses] == [
        ("sent", "PMP", "regular", "marketing_lite", True),
        ("sent", "PMP", "regular", "authentication_international", True),
        ("sent", "PMP", "free_customer_service", "service", False),
        ("sent", "PMP", "free_entry_point", "utility", False),
    ]
    assert (
        Message.objects.get(wamid=statuses[0]["id"]).pricing == statuses[0]["pricing"]
    )


def test_an_older_pricing_without_type_keeps_billable_as_sent(deliver, number):
    message = sent(number, "wamid.OUTBOUND_TEXT_0001")
    deliver(load_fixture("statuses.json"))  # PMP with billable, no type
    message.refresh_from_db()
    assert (
        message.status,
        message.pricing_model,
        message.pricing_type,
        message.pricing_category,
        message.billable,
    ) == ("read", "PMP", "", "service", True)


@pytest.mark.parametrize(
    ("category", "entry_point", "expected"),
    [
        ("service", False, ("free_customer_service", "service", False)),
        ("MARKETING", False, ("regular", "marketing", True)),
        ("utility", True, ("free_entry_point", "utility", False)),
    ],
)
def test_the_simulator_s_statuses_carry_pricing_as_meta_sends_it(
    deliver, number, category, entry_point, expected
):
    message = sent(number, "wamid.SIMULATED")
    deliver(
        simulated.status_body(
            number,
            wamid="wamid.SIMULATED",
            status="delivered",
            recipient="5511987654321",
            pricing_=simulated.pricing(category, entry_point=entry_point),
        )
    )
    message.refresh_from_db()
    assert (
        message.pricing_type,
        message.pricing_category,
        message.billable,
    ) == expected
    assert message.pricing_model == "PMP"
