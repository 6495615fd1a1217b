"""Sending templates (states, window, opt-outs) through message_send, and the
templates REST API (list, detail, preview) with its access rules."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.tokens import token_issue
from apps.accounts.tests.factories import AdminFactory, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.message_templates.models import MessageTemplate
from apps.message_templates.render import template_message_rendered
from apps.message_templates.selectors import template_list_for_user
from apps.message_templates.services import template_sync
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message, Status
from apps.messaging.services.send import message_send
from apps.messaging.validation import SendError
from apps.simulator.models import SimulatedMessage, SimulatedTemplate
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

SHIPPING = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships {{3}}."},
    {"type": "FOOTER", "text": "Shop Ltd"},
    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://s.test/t/{{1}}"},
                                    {"type": "QUICK_REPLY", "text": "Thanks"}]},
]


@pytest.fixture
def conversation(simulator):
    return ConversationFactory()


def meta_template(conversation, name="shipping", status="APPROVED", category="UTILITY", language="en_US"):
    """The template at Meta (the simulator), synced into ours."""
    SimulatedTemplate.objects.create(
        meta_id=str(880000000000 + SimulatedTemplate.objects.count()), waba_id=conversation.number.waba_id,
        name=name, language=language, category=category, status=status, components=SHIPPING,
    )
    template_sync(organization=conversation.organization)
    return MessageTemplate.objects.get(organization=conversation.organization, name=name, language=language)


PAYLOAD = {"name": "shipping", "language": "en_US", "header": {"link": "https://s.test/box.jpg"},
           "body": ["Ann", "#42", {"type": "date_time", "date_time": {"fallback_value": "tomorrow"}}],
           "buttons": {"0": "A42"}}


def send(conversation, payload=PAYLOAD, author_type="agent"):
    return message_send(conversation=conversation, author=None, author_type=author_type, kind="template",
                        payload=payload)


@pytest.mark.parametrize("window_open", [True, False])
def test_an_approved_template_is_sent_inside_and_outside_the_window(conversation, window_open):
    if not window_open:
        conversation.last_customer_message_at = timezone.now() - timedelta(days=2)
        conversation.save()
    meta_template(conversation)
    message = send(conversation)
    message.refresh_from_db()
    assert message.status == Status.SENT, (message.error_code, message.error_message)
    sent = SimulatedMessage.objects.get(wamid=message.wamid).payload["template"]
    assert sent == {"name": "shipping", "language": {"code": "en_US"}, "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://s.test/box.jpg"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ann"}, {"type": "text", "text": "#42"},
                                        {"type": "date_time", "date_time": {"fallback_value": "tomorrow"}}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A42"}]},
    ]}
    assert message.content == sent
    assert message.text == "[image]\n\nHi Ann, order #42 ships tomorrow.\n\nShop Ltd\n\n[Track] | [Thanks]"
    assert template_message_rendered(message=message) == {
        "header": "", "header_format": "IMAGE", "header_media": {"type": "image", "link": "https://s.test/box.jpg"},
        "body": "Hi Ann, order #42 ships tomorrow.", "footer": "Shop Ltd",
        "buttons": [{"type": "url", "text": "Track", "url": "https://s.test/t/A42"},
                    {"type": "quick_reply", "text": "Thanks"}],
        "text": message.text,
    }


@pytest.mark.parametrize(("status", "words"), [
    ("PAUSED", "paused"), ("DISABLED", "disabled"), ("REJECTED", "rejected"), ("PENDING", "in review"),
])
def test_templates_that_cannot_be_sent_say_why_and_store_nothing(conversation, status, words):
    meta_template(conversation, status=status)
    with pytest.raises(SendError) as caught:
        send(conversation)
    assert (caught.value.field, caught.value.code, caught.value.extra) == (
        "template.name", "not_approved", {"template_status": status})
    assert words in caught.value.message
    assert not Message.objects.exists()


def test_deleted_at_meta_cannot_be_sent(conversation):
    meta_template(conversation)
    SimulatedTemplate.objects.all().delete()
    template_sync(organization=conversation.organization)
    with pytest.raises(SendError) as caught:
        send(conversation)
    assert "deleted at Meta" in caught.value.message


def test_paused_at_meta_after_our_sync_fails_with_metas_code(conversation):
    meta_template(conversation)
    SimulatedTemplate.objects.update(status="PAUSED")
    message = send(conversation)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, 132015)


def test_parameter_errors_name_the_component_in_the_send_payload(conversation):
    meta_template(conversation)
    with pytest.raises(SendError) as caught:
        send(conversation, {**PAYLOAD, "body": ["Ann", "#42"]})
    assert (caught.value.field, caught.value.code) == ("template.body", "count")
    with pytest.raises(SendError) as caught:
        send(conversation, {**PAYLOAD, "buttons": {}})
    assert (caught.value.field, caught.value.code) == ("template.buttons[0]", "required")
    with pytest.raises(SendError) as caught:
        send(conversation, {**PAYLOAD, "header": None})
    assert (caught.value.field, caught.value.code) == ("template.header", "required")
    assert not Message.objects.exists()


def test_marketing_templates_never_reach_marketing_opt_outs_and_nothing_reaches_opt_outs(conversation):
    meta_template(conversation, name="promo", category="MARKETING")
    meta_template(conversation)
    contact = conversation.contact
    contact.marketing_opted_out = True
    contact.save()
    with pytest.raises(SendError) as caught:
        send(conversation, {**PAYLOAD, "name": "promo"})
    assert caught.value.code == "marketing_opted_out"
    assert send(conversation).pk  # a utility template still goes
    contact.opted_out = True
    contact.save()
    with pytest.raises(SendError) as caught:
        send(conversation)
    assert caught.value.code == "opted_out"
    assert Message.objects.count() == 1


# --- REST ---------------------------------------------------------------------------------


def client_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user, name='test')[1]}")
    return client


@pytest.fixture
def world(conversation):
    org = conversation.organization
    waba = conversation.number.waba_id
    approved = MessageTemplateFactory(organization=org, waba_id=waba, name="order_update", language="pt_BR",
                                      parameter_mapping={"body.1": "contact.name",
                                                         "body.2": "contact.attributes.order"})
    MessageTemplateFactory(organization=org, waba_id=waba, name="order_paused", status="PAUSED")
    MessageTemplateFactory(organization=org, waba_id=waba, name="welcome", language="en_US",
                           components=[{"type": "BODY", "text": "Welcome aboard."}])
    MessageTemplateFactory(organization=org, waba_id="another-waba", name="other_waba")
    MessageTemplateFactory(waba_id=waba, name="other_org")
    conversation.contact.name = "Ann"
    conversation.contact.attributes = {"order": "A-7"}
    conversation.contact.save()
    return {"org": org, "approved": approved, "conversation": conversation}


def names(response):
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


def test_list_is_scoped_and_filtered(world):
    conversation = world["conversation"]
    team = TeamFactory(organization=world["org"])
    team.numbers.add(conversation.number)
    agent = UserFactory(organization=world["org"])
    team.members.add(agent)
    client = client_for(agent)
    number = conversation.number
    assert names(client.get("/api/v1/templates/", {"number": number.pk})) == ["order_update", "welcome"]
    assert names(client.get("/api/v1/templates/", {"number": number.phone_number_id, "language": "pt"})) == [
        "order_update"]
    assert names(client.get("/api/v1/templates/", {"number": number.pk, "q": "aboard"})) == ["welcome"]
    # Every state for admins; agents still see only live ones.
    admin = AdminFactory(organization=world["org"])
    assert names(client_for(admin).get("/api/v1/templates/", {"number": number.pk, "all": "1"})) == [
        "order_paused", "order_update", "welcome"]
    paused = next(r for r in client_for(admin).get("/api/v1/templates/", {"number": number.pk, "all": "1"})
                  .json()["results"] if r["name"] == "order_paused")
    assert (paused["sendable"], "paused" in paused["reason"]) == (False, True)
    # Another organisation's number is nobody's here.
    stranger = AdminFactory()
    assert names(client_for(stranger).get("/api/v1/templates/", {"number": number.pk})) == []
    assert client.get("/api/v1/templates/").status_code == 400
    assert list(template_list_for_user(user=agent, number=number, query="order").values_list("name", flat=True)) == [
        "order_update"]


def test_list_prefills_from_the_conversations_contact(world):
    admin = AdminFactory(organization=world["org"])
    response = client_for(admin).get("/api/v1/templates/", {
        "number": world["conversation"].number.pk, "conversation": world["conversation"].pk, "language": "pt_BR"})
    row = response.json()["results"][0]
    assert row["prefill"] == {"body": {"1": "Ann", "2": "A-7"}}
    assert [s["slot"] for s in row["slots"]] == ["body.1", "body.2"]


def test_detail_and_preview(world):
    admin = AdminFactory(organization=world["org"])
    client = client_for(admin)
    template = world["approved"]
    assert client.get(f"/api/v1/templates/{template.pk}/").json()["name"] == "order_update"
    response = client.post(f"/api/v1/templates/{template.pk}/preview/", {"parameters": {"body": ["Bob", "9"]}},
                           format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["text"], data["sendable"]) == ("Hello Bob, your order 9 has shipped.", True)
    assert data["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "Bob"},
                                                                  {"type": "text", "text": "9"}]}]
    # Prefilled from the contact, what is given wins.
    response = client.post(f"/api/v1/templates/{template.pk}/preview/",
                           {"parameters": {"body": {"2": "B-1"}}, "conversation": world["conversation"].pk},
                           format="json")
    assert response.json()["body"] == "Hello Ann, your order B-1 has shipped."
    response = client.post(f"/api/v1/templates/{template.pk}/preview/", {"parameters": {"body": ["only"]}},
                           format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "{{1}}, {{2}}" in response.json()["message"]
    stranger = AdminFactory()
    assert client_for(stranger).get(f"/api/v1/templates/{template.pk}/").status_code == 404
    assert client_for(stranger).post(f"/api/v1/templates/{template.pk}/preview/", {}, format="json").status_code == 404


def test_preview_refuses_a_conversation_the_agent_cannot_see(world):
    admin = AdminFactory(organization=world["org"])
    response = client_for(admin).post(f"/api/v1/templates/{world['approved'].pk}/preview/",
                                      {"parameters": {}, "conversation": "x"}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["conversation"])
    agent = UserFactory(organization=world["org"])
    response = client_for(agent).post(f"/api/v1/templates/{world['approved'].pk}/preview/",
                                      {"parameters": {}, "conversation": world["conversation"].pk}, format="json")
    assert response.status_code == 404
