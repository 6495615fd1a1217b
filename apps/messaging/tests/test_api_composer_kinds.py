"""The integration API sends Flow, product-list and contacts messages to a customer
whose window is open, and answers 400 naming the field for what Meta would refuse."""

import pytest

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message
from apps.messaging.tests.test_api import client_for
from apps.simulator.models import SimulatedCatalog, SimulatedFlow, SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def open_conversation(simulator):
    admin = AdminFactory()
    number = WhatsAppNumberFactory(organization=admin.organization)
    conversation = ConversationFactory(organization=admin.organization, number=number)
    SimulatedFlow.objects.create(waba_id=number.waba_id, flow_id="1234567890123456", name="Book a visit")
    SimulatedCatalog.objects.create(waba_id=number.waba_id, catalog_id="9876543210", name="Loja",
                                    products=[{"retailer_id": "SKU-1"}, {"retailer_id": "SKU-2"}])
    return admin, conversation


def post(admin, conversation, kind, content):
    body = {"number": conversation.number.phone_number_id, "to": "+" + conversation.contact.wa_id,
            "type": kind, kind: content}
    return client_for(admin).post("/api/v1/messages/", body, format="json")


def test_a_flow_and_a_product_list_are_sent(open_conversation):
    admin, conversation = open_conversation
    response = post(admin, conversation, "interactive", {"type": "flow", "body": "Book a visit",
                                                         "flow_id": "1234567890123456", "flow_cta": "Book"})
    assert response.status_code == 202, response.json()
    flow = Message.objects.get(pk=response.json()["id"])
    response = post(admin, conversation, "interactive", {
        "type": "product_list", "header": "Picks", "body": "For you", "catalog_id": "9876543210",
        "sections": [{"product_items": [{"product_retailer_id": "SKU-1"}, {"product_retailer_id": "SKU-2"}]}]})
    assert response.status_code == 202, response.json()
    listed = Message.objects.get(pk=response.json()["id"])
    assert flow.conversation_id == listed.conversation_id == conversation.pk
    sent = {m.wamid: m.payload for m in SimulatedMessage.objects.all()}
    flow.refresh_from_db()
    listed.refresh_from_db()
    assert sent[flow.wamid]["interactive"]["action"]["parameters"]["flow_id"] == "1234567890123456"
    assert sent[listed.wamid]["interactive"]["action"]["catalog_id"] == "9876543210"


@pytest.mark.parametrize(("kind", "content", "field", "code"), [
    ("interactive", {"type": "flow", "body": "Hi", "flow_id": "1"}, "interactive.flow_cta", "required"),
    ("interactive", {"type": "product_list", "body": "Hi", "catalog_id": "9", "sections": []},
     "interactive.header", "required"),
    ("contacts", [{"name": {"formatted_name": "Ann"}}], "contacts[0].name", "required"),
    ("contacts", [{"name": {"formatted_name": "Ann", "first_name": "Ann"}, "phones": [{"fax": "1"}]}],
     "contacts[0].phones[0].fax", "invalid"),
])
def test_what_meta_would_refuse_is_a_400_naming_the_field(open_conversation, kind, content, field, code):
    admin, conversation = open_conversation
    response = post(admin, conversation, kind, content)
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["code"]) == (field, code)
    assert not Message.objects.filter(direction="out").exists()
