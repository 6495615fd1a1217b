"""Flow, product, product-list and contacts messages end to end: the send use-case,
the send task and the simulator over HTTP, which checks them as Meta does against the
account's Flows and catalog; and the account's Flows and catalog read from it (cached)."""

import json
from pathlib import Path

import pytest

from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Status
from apps.messaging.services.send import message_send
from apps.simulator.models import (
    SimulatedCatalog,
    SimulatedFlow,
    SimulatedMessage,
    SimulatedRequest,
)
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.assets import assets_forget, number_catalog, number_flows

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[2] / "providers/meta/tests/fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def conversation(simulator):
    conversation = ConversationFactory()
    waba = conversation.number.waba_id
    SimulatedFlow.objects.create(waba_id=waba, flow_id="1234567890123456", name="appointment_booking",
                                 screens=["APPOINTMENT", "DONE"])
    SimulatedFlow.objects.create(waba_id=waba, flow_id="3456789012345678", name="Lead form", status="DRAFT")
    SimulatedCatalog.objects.create(waba_id=waba, catalog_id="9876543210", name="Loja Exemplo",
                                    products=[{"retailer_id": f"SKU-{i}"} for i in range(1, 4)])
    assets_forget(conversation.number)
    yield conversation
    assets_forget(conversation.number)


def send(conversation, kind, payload):
    message = message_send(conversation=conversation, author=None, author_type="agent", kind=kind, payload=payload)
    message.refresh_from_db()
    return message


def sent(message) -> dict:
    assert message.status == Status.SENT, (message.error_code, message.error_message)
    return SimulatedMessage.objects.get(wamid=message.wamid).payload


def test_a_flow_reaches_the_simulator_as_metas_example(conversation):
    example = fixture("send_flow")["interactive"]
    parameters = example["action"]["parameters"]
    message = send(conversation, "interactive", {
        "type": "flow", "header": "Book a visit", "body": "Pick a day and a time that suit you.",
        "footer": "It takes a minute", "flow_id": parameters["flow_id"], "flow_cta": "Book!",
        "flow_token": parameters["flow_token"], "screen": "APPOINTMENT",
        "data": parameters["flow_action_payload"]["data"]})
    assert sent(message)["interactive"] == example
    assert message.text == "Pick a day and a time that suit you."


def test_the_simulator_refuses_a_flow_meta_would_refuse(conversation):
    for fields in ({"flow_id": "404"}, {"flow_id": "3456789012345678"},
                   {"flow_id": "1234567890123456", "screen": "NOWHERE"}):
        message = send(conversation, "interactive", {"type": "flow", "body": "Hi", "flow_cta": "Open", **fields})
        assert (message.status, message.error_code) == (Status.FAILED, 131009), fields
    draft = send(conversation, "interactive", {"type": "flow", "body": "Hi", "flow_cta": "Open",
                                               "flow_name": "Lead form", "mode": "draft"})
    assert sent(draft)["interactive"]["action"]["parameters"]["flow_name"] == "Lead form"


def test_products_reach_the_simulator_as_metas_examples(conversation):
    single = fixture("send_product")["interactive"]
    message = send(conversation, "interactive", {"type": "product", "body": single["body"]["text"],
                                                 "footer": single["footer"]["text"], **single["action"]})
    assert sent(message)["interactive"] == single
    listed = fixture("send_product_list")["interactive"]
    message = send(conversation, "interactive", {
        "type": "product_list", "header": listed["header"]["text"], "body": listed["body"]["text"],
        "footer": listed["footer"]["text"], **listed["action"]})
    assert sent(message)["interactive"] == listed


def test_the_simulator_refuses_products_outside_the_catalog(conversation):
    for action in ({"catalog_id": "9876543210", "product_retailer_id": "SKU-404"},
                   {"catalog_id": "1111", "product_retailer_id": "SKU-1"}):
        message = send(conversation, "interactive", {"type": "product", **action})
        assert (message.status, message.error_code) == (Status.FAILED, 131009), action


def test_contact_cards_reach_the_simulator_as_metas_example(conversation):
    cards = fixture("send_contacts")["contacts"]
    message = send(conversation, "contacts", {"contacts": cards})
    assert sent(message)["contacts"] == cards
    assert message.text == "Barbara J. Johnson"


def test_the_accounts_flows_and_catalog_are_read_once_and_kept(conversation):
    number = conversation.number
    flows = number_flows(number)
    assert [(f.id, f.name) for f in flows.value] == [("1234567890123456", "appointment_booking")]
    assert number_catalog(number).value.id == "9876543210"
    calls = SimulatedRequest.objects.filter(method="GET").count()
    assert number_flows(number).value == flows.value and number_catalog(number).value.id == "9876543210"
    assert SimulatedRequest.objects.filter(method="GET").count() == calls == 2


def test_an_account_without_a_catalog_offers_no_products(conversation):
    SimulatedCatalog.objects.all().delete()
    assert number_catalog(conversation.number).value is False


def test_a_failed_read_says_why_and_is_not_kept(conversation):
    number = conversation.number
    number.waba_id = "299999999999999"  # not an account the simulator knows
    read = number_flows(number)
    assert read.value is None and "does not exist" in read.error
    assets_forget(number)
