"""The report's cost (Meta's per-message pricing and the organisation's rates), calls
and referrals sections, on a small world computed by hand."""

from decimal import Decimal

import pytest

from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging.models import Direction, MessageType
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.reports import sections
from apps.reports.models import PricingRate
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .dataset import rows, utc

pytestmark = pytest.mark.django_db

AT = utc(2025, 3, 11, 15)


def priced(conversation, category, kind, *, template=None, billable=None):
    content = (
        {"name": template, "language": {"code": "pt_BR"}} if template else {"body": "x"}
    )
    return OutboundMessageFactory(
        conversation=conversation,
        timestamp=AT,
        status="delivered",
        type=MessageType.TEMPLATE if template else MessageType.TEXT,
        content=content,
        pricing_model="PMP",
        pricing_type=kind,
        pricing_category=category,
        billable=billable,
    )


@pytest.fixture
def world():
    from apps.accounts.tests.factories import OrganizationFactory
    from apps.reports.tests.dataset import Data

    org = OrganizationFactory(timezone="America/Sao_Paulo")
    n1 = WhatsAppNumberFactory(
        organization=org, display_phone_number="+55 11 4000-0001"
    )
    n2 = WhatsAppNumberFactory(
        organization=org, display_phone_number="+52 55 4000-0002"
    )
    br = ConversationFactory(
        organization=org,
        number=n1,
        contact=ContactFactory(organization=org, wa_id="5511987654321"),
    )
    sp = ConversationFactory(
        organization=org,
        number=n1,
        contact=ContactFactory(organization=org, wa_id="5521987654321"),
    )
    mx = ConversationFactory(
        organization=org,
        number=n2,
        contact=ContactFactory(organization=org, wa_id="5215512345678"),
    )
    priced(br, "marketing", "regular", template="promo", billable=True)
    priced(sp, "marketing", "regular", template="promo", billable=True)
    priced(
        mx, "marketing_lite", "regular", template="promo_lite"
    )  # billable absent: a regular type is
    priced(br, "service", "free_customer_service", billable=False)
    priced(br, "utility", "free_entry_point", template="order_update", billable=False)
    OutboundMessageFactory(
        conversation=br, timestamp=AT, status="sent"
    )  # not priced (yet)
    PricingRate.objects.create(
        organization=org, market="55", category="marketing", price=Decimal("0.0625")
    )
    PricingRate.objects.create(
        organization=org, market="5521", category="marketing", price=Decimal("0.07")
    )
    PricingRate.objects.create(
        organization=org, market="", category="marketing_lite", price=Decimal("0.05")
    )
    PricingRate.objects.create(
        organization=org, market="55", category="utility", price=Decimal("0.008")
    )
    PricingRate.objects.create(
        organization=OrganizationFactory(), market="", category="marketing", price=1
    )
    return Data(
        org=org,
        supervisor=None,
        ann=None,
        bob=None,
        team=None,
        label=None,
        n1=n1,
        n2=n2,
        c={"br": br, "sp": sp, "mx": mx},
    )


def test_cost_by_category_number_and_template(world):
    tables = sections.cost(world.params())
    assert rows(tables, "cost-by-category") == [
        [
            "marketing",
            "regular",
            2,
            2,
            "0.1325",
            "USD",
        ],  # 0.0625 (55) + 0.07 (5521, the longer market)
        [
            "marketing_lite",
            "regular",
            1,
            1,
            "0.0500",
            "USD",
        ],  # the rate of every market
        ["service", "free_customer_service", 1, 0, "", ""],
        [
            "utility",
            "free_entry_point",
            1,
            0,
            "",
            "",
        ],  # free: a rate exists, nothing is charged
    ]
    assert rows(tables, "cost-by-number") == [
        ["+55 11 4000-0001", 4, 2, "0.1325", "USD"],
        ["+52 55 4000-0002", 1, 1, "0.0500", "USD"],
    ]
    assert rows(tables, "cost-by-template") == [
        ["promo", "pt_BR", "marketing", 2, 2, "0.1325", "USD"],
        ["order_update", "pt_BR", "utility", 1, 0, "", ""],
        ["promo_lite", "pt_BR", "marketing_lite", 1, 1, "0.0500", "USD"],
    ]


def test_cost_follows_the_number_filter(world):
    assert rows(
        sections.cost(world.params(number_id=world.n2.pk)), "cost-by-number"
    ) == [["+52 55 4000-0002", 1, 1, "0.0500", "USD"]]


def test_calls_by_direction_and_outcome(world):
    for outcome, duration in (("completed", 95), ("completed", 30), ("missed", None)):
        content = {"direction": "USER_INITIATED", "outcome": outcome}
        if duration:
            content["duration"] = duration
        MessageFactory(
            conversation=world.c["br"],
            timestamp=AT,
            type=MessageType.CALL,
            content=content,
            text="",
        )
    assert rows(sections.calls(world.params()), "calls") == [
        ["USER_INITIATED", "completed", 2, 125],
        ["USER_INITIATED", "missed", 1, 0],
    ]


def test_conversations_by_ad_source(world):
    ad = {
        "source_type": "ad",
        "source_id": "120210000000000",
        "headline": "Promoção de inverno",
        "source_url": "https://fb.me/abc123",
    }
    MessageFactory(conversation=world.c["br"], timestamp=AT, referral=ad)
    MessageFactory(conversation=world.c["br"], timestamp=AT, referral=ad)
    MessageFactory(conversation=world.c["sp"], timestamp=AT, referral=ad)
    MessageFactory(
        conversation=world.c["mx"],
        timestamp=AT,
        referral={"source_type": "post", "source_id": "9"},
    )
    MessageFactory(
        conversation=world.c["mx"], timestamp=AT, direction=Direction.INBOUND
    )
    assert rows(sections.referrals(world.params()), "referrals") == [
        [
            "ad",
            "120210000000000",
            "Promoção de inverno",
            "https://fb.me/abc123",
            2,
            2,
            3,
        ],
        ["post", "9", "", "", 1, 1, 1],
    ]
