"""The composer's calling kinds: a call-permission request and a voice-call button
offered in the Buttons / List pop-up, what each sends (through the simulator), its
refusals, the preview, and the thread showing a request and the customer's answer
together."""

import pytest
from django.urls import reverse

from apps.inbox.presenters import message_view
from apps.inbox.tests.helpers import client_for, partial
from apps.messaging.models import Direction, Message, MessageType
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def send(user, conversation, data):
    return client_for(user).post(reverse("inbox:send", args=[conversation.pk]), data, HTTP_HX_REQUEST="true")


def preview(user, conversation, data):
    return client_for(user).post(reverse("inbox:interactive_preview", args=[conversation.pk]), data,
                                 HTTP_HX_REQUEST="true").content.decode()


def outbound(conversation):
    return Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND).order_by("pk")


def test_the_pop_up_offers_both_calling_kinds(world):
    page = client_for(world.agent).get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    assert 'value="call_permission_request"' in page and 'value="voice_call"' in page
    assert 'name="call_display_text"' in page and 'name="call_ttl_minutes"' in page


def test_both_are_sent_from_the_composer_and_reach_the_simulator(world, simulator):  # noqa: F811
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "call_permission_request",
                                              "ibody": "May we call you about order 42?"})
    assert response.status_code == 200, response.content
    response = send(world.agent, world.mine, {
        "kind": "interactive", "itype": "voice_call", "ibody": "Talk to us now", "call_display_text": "Call support",
        "call_ttl_minutes": "60", "call_payload": "order-42", "button_title": ["", "", ""]})
    assert response.status_code == 200, response.content
    request, button = outbound(world.mine)
    assert request.content["action"] == {"name": "call_permission_request"}
    assert button.content["action"] == {"name": "voice_call", "parameters": {
        "display_text": "Call support", "ttl_minutes": 60, "payload": "order-42"}}
    sent = {m.wamid: m.payload["interactive"] for m in SimulatedMessage.objects.all()}
    request.refresh_from_db()
    button.refresh_from_db()
    assert sent[request.wamid] == request.content and sent[button.wamid] == button.content
    assert message_view(button)["interactive"]["buttons"] == ["📞 Call support"]
    assert message_view(request)["interactive"]["buttons"] == ["📞 Allow calls from the business?"]


def test_refusals_are_named_and_nothing_is_sent(world):
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "voice_call", "ibody": "Call",
                                              "call_ttl_minutes": "50000"})
    assert response.status_code == 422 and "interactive.ttl_minutes" in response.content.decode()
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "call_permission_request",
                                              "ibody": "May we call?", "ifooter": "Thanks"})
    assert response.status_code == 422 and "no header, no footer" in response.content.decode()
    assert not outbound(world.mine).exists()


def test_the_preview_shows_the_button_the_customer_will_tap(world):
    page = preview(world.agent, world.mine, {"itype": "voice_call", "ibody": "Talk to us"})
    assert "Talk to us" in page and "📞 Call Now" in page
    page = preview(world.agent, world.mine, {"itype": "call_permission_request", "ibody": "May we call?"})
    assert "Allow calls from the business?" in page


def test_a_request_and_the_customers_answer_read_together(world):
    request = MessageFactory(conversation=world.mine, direction=Direction.OUTBOUND, type=MessageType.INTERACTIVE,
                             wamid="wamid.CPR1", text="May we call you about order 42?", status="read",
                             content={"type": "call_permission_request",
                                      "body": {"text": "May we call you about order 42?"},
                                      "action": {"name": "call_permission_request"}})
    answer = MessageFactory(conversation=world.mine, type=MessageType.INTERACTIVE, text="", reply_to=request,
                            reply_to_wamid="wamid.CPR1",
                            content={"type": "call_permission_reply", "call_permission_reply": {
                                "response": "accept", "expiration_timestamp": 1718808800,
                                "response_source": "user_action"}})
    asked = partial(client_for(world.agent), request)
    assert "May we call you about order 42?" in asked and "Allow calls from the business?" in asked
    answered = partial(client_for(world.agent), answer)
    assert "The customer allows calls" in answered
    assert "May we call you about order 42?" in answered  # quoted: the answer names the request it answers
