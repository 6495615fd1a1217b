"""The customer phone shows a call-permission request with its two choices and a
voice-call button; allowing or declining reaches the inbox through the signed webhook as
Meta's call_permission_reply, replying to the request, and the thread shows the answer
under the request it answers."""

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.inbox.presenters import message_view
from apps.messaging.models import Message
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator import webhooks
from apps.simulator.models import SimulatedMessage
from apps.whatsapp.secrets import clear_secrets_cache
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import post_webhook

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511988887777"
REQUEST = {"interactive": {"type": "call_permission_request", "body": {"text": "May we call you about order 42?"},
                           "action": {"name": "call_permission_request"}}}
BUTTON = {"interactive": {"type": "voice_call", "body": {"text": "Talk to us"}, "action": {"name": "voice_call"}}}


@pytest.fixture
def sent(monkeypatch):
    bodies = []
    monkeypatch.setattr(webhooks, "send_later", lambda batch, *, secret, delay, url=None: bodies.extend(batch))
    return bodies


@pytest.fixture
def number():
    clear_secrets_cache()
    number = WhatsAppNumberFactory(app_secret="home-secret")
    contact = ContactFactory(organization=number.organization, wa_id=CUSTOMER)
    conversation = ConversationFactory(organization=number.organization, number=number, contact=contact)
    OutboundMessageFactory(conversation=conversation, wamid="wamid.cpr", type="interactive", status="read",
                           text="May we call you about order 42?", content=REQUEST["interactive"])
    for wamid, payload in (("wamid.cpr", REQUEST), ("wamid.call", BUTTON)):
        SimulatedMessage.objects.create(phone_number_id=number.phone_number_id, customer=CUSTOMER, direction="out",
                                        wamid=wamid, type="interactive", status="sent", payload=payload)
    yield number
    clear_secrets_cache()


def test_the_phone_allows_or_declines_calls_and_the_thread_shows_the_answer(number, sent):
    phone = Client()
    phone.force_login(AdminFactory(organization=number.organization))
    page = phone.get(f"/simulator/phone/{number.pk}/{CUSTOMER}/thread/").content.decode()
    assert 'data-sim-call-permission="accept"' in page and 'data-sim-call-permission="reject"' in page
    assert "📞 Call Now" in page
    url = f"/simulator/phone/{number.pk}/send/"
    for response in ("accept", "reject"):
        assert phone.post(url, {"phone": CUSTOMER, "type": "call_permission", "target": "wamid.cpr",
                                "response": response}).status_code == 302
    assert phone.post(url, {"phone": CUSTOMER, "type": "call_permission", "target": "wamid.call",
                            "response": "accept"}).status_code == 400

    allowed, declined = (body["entry"][0]["changes"][0]["value"]["messages"][0] for body in sent)
    assert allowed["context"]["id"] == "wamid.cpr"
    assert allowed["interactive"]["call_permission_reply"]["response"] == "accept"
    assert allowed["interactive"]["call_permission_reply"]["expiration_timestamp"] > 0
    assert declined["interactive"]["call_permission_reply"] == {
        "response": "reject", "is_permanent": False, "response_source": "user_action"}
    inbox = Client()
    for body in sent:
        assert post_webhook(inbox, body, secret="home-secret").status_code == 200
    answers = Message.objects.filter(direction="in", type="interactive").order_by("pk")
    assert [message_view(m)["interactive"]["answer"] for m in answers] == [
        "The customer allows calls", "The customer declined calls"]
    assert {m.reply_to.wamid for m in answers} == {"wamid.cpr"}
