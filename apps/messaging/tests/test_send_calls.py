"""Call permission requests and voice-call buttons end to end: the integration API,
the send use-case and task, and the simulator over HTTP, which checks them as Meta
does; and a 400 naming the field for what Meta would refuse."""

import json
from pathlib import Path

import pytest

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message, Status
from apps.messaging.tests.test_api import client_for
from apps.providers.meta.client import GraphAPIError
from apps.providers.meta.client import client_for as graph_client
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[2] / "providers/meta/tests/fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def open_conversation(simulator):  # noqa: F811
    admin = AdminFactory()
    number = WhatsAppNumberFactory(organization=admin.organization)
    return admin, ConversationFactory(organization=admin.organization, number=number)


def post(admin, conversation, content):
    body = {"number": conversation.number.phone_number_id, "to": "+" + conversation.contact.wa_id,
            "type": "interactive", "interactive": content}
    return client_for(admin).post("/api/v1/messages/", body, format="json")


def sent(response) -> tuple[Message, dict]:
    assert response.status_code == 202, response.json()
    message = Message.objects.get(pk=response.json()["id"])
    assert message.status == Status.SENT, (message.error_code, message.error_message)
    return message, SimulatedMessage.objects.get(wamid=message.wamid).payload


def test_a_call_permission_request_and_a_voice_call_button_reach_the_simulator_as_metas(open_conversation):
    admin, conversation = open_conversation
    request = fixture("send_call_permission_request")["interactive"]
    message, payload = sent(post(admin, conversation, {"type": "call_permission_request",
                                                       "body": request["body"]["text"]}))
    assert payload["interactive"] == request
    assert message.text == request["body"]["text"]
    button = fixture("send_voice_call")["interactive"]
    _message, payload = sent(post(admin, conversation, {"type": "voice_call", "body": button["body"]["text"],
                                                        **button["action"]["parameters"]}))
    assert payload["interactive"] == button


@pytest.mark.parametrize(("content", "field", "code"), [
    ({"type": "call_permission_request", "body": ""}, "interactive.body", "required"),
    ({"type": "call_permission_request", "body": "May we call?", "header": "Hi"}, "interactive.header",
     "not_allowed"),
    ({"type": "voice_call", "body": "Call", "ttl_minutes": 50000}, "interactive.ttl_minutes", "invalid"),
    ({"type": "voice_call", "body": "Call", "display_text": "x" * 21}, "interactive.display_text", "too_long"),
])
def test_what_meta_would_refuse_is_a_400_naming_the_field(open_conversation, content, field, code):
    admin, conversation = open_conversation
    response = post(admin, conversation, content)
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["code"]) == (field, code)
    assert not Message.objects.filter(direction="out").exists()


@pytest.mark.parametrize(("interactive", "code"), [
    ({"type": "call_permission_request", "action": {"name": "call_permission_request"}}, 131008),
    ({"type": "call_permission_request", "body": {"text": "May we call?"}, "footer": {"text": "x"},
      "action": {"name": "call_permission_request"}}, 100),
    ({"type": "call_permission_request", "body": {"text": "May we call?"}, "action": {"name": "voice_call"}}, 100),
    ({"type": "voice_call", "body": {"text": "Call"},
      "action": {"name": "voice_call", "parameters": {"ttl_minutes": 0}}}, 100),
    ({"type": "voice_call", "body": {"text": "Call"},
      "action": {"name": "voice_call", "parameters": {"display_text": "x" * 21}}}, 100),
    ({"type": "voice_call", "body": {"text": "Call"},
      "action": {"name": "voice_call", "parameters": {"payload": "x" * 513}}}, 100),
])
def test_the_simulator_refuses_what_meta_refuses(open_conversation, interactive, code):
    _admin, conversation = open_conversation
    number = conversation.number
    with pytest.raises(GraphAPIError) as refused:
        graph_client(number).call("POST", number.phone_number_id, "messages", json={
            "messaging_product": "whatsapp", "to": conversation.contact.wa_id, "type": "interactive",
            "interactive": interactive})
    assert refused.value.code == code
    assert not SimulatedMessage.objects.exists()
