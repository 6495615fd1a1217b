"""Sending the templates with parts beyond header, body and buttons: a carousel (cards
with media headers, body parameters and their own buttons), a limited-time offer (its
expiration, the copy-code button), a flow button (token and first screen's data) and
a catalog button (the thumbnail product). Rendered to the components of Meta's send
reference (fixtures), sent end to end through the simulator, which checks them as Meta
does, and picked in the composer."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from apps.accounts.tests.worlds import build_world
from apps.conversations.tests.factories import ConversationFactory
from apps.inbox.tests.helpers import client_for as browser
from apps.message_templates.models import MessageTemplate
from apps.message_templates.render import (
    parameters_from_components,
    template_render,
    unsupported_parts,
)
from apps.message_templates.services import template_sync
from apps.messaging.models import Direction, Message, Status
from apps.messaging.services.send import message_send
from apps.messaging.validation import SendError
from apps.providers.meta.client import GraphAPIError, client_for
from apps.simulator.models import SimulatedMessage, SimulatedTemplate
from apps.simulator.testing import simulator  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"
DEFINED = {t["name"]: t for t in json.loads((FIXTURES / "templates_with_unbuilt_parts.json").read_text())["data"]}
SENDS = {k: v for k, v in json.loads((FIXTURES / "template_part_sends.json").read_text()).items()
         if not k.startswith("_")}


def unsaved(name: str) -> MessageTemplate:
    item = DEFINED[name]
    return MessageTemplate(name=name, language=item["language"], category=item["category"], status="APPROVED",
                           parameter_format=item.get("parameter_format", "POSITIONAL"), components=item["components"])


@pytest.mark.parametrize("name", sorted(SENDS))
def test_each_part_renders_to_meta_s_components_and_back(name):
    template = unsaved(name)
    assert unsupported_parts(template) == []
    rendered = template_render(template=template, parameters=SENDS[name]["parameters"])
    assert rendered.components == SENDS[name]["components"]
    again = template_render(template=template, parameters=parameters_from_components(rendered.components))
    assert again.components == rendered.components


def test_what_the_customer_sees_of_an_offer_and_a_carousel(settings):
    settings.TIME_ZONE = "UTC"
    offer = template_render(template=unsaved("limited_offer"), parameters={
        **SENDS["limited_offer"]["parameters"], "limited_time_offer": "2026-12-31T23:59"})
    assert offer.offer == {"text": "Expiring offer!", "has_expiration": True,
                           "expiration_time_ms": 1798761540000, "expires_at": "2026-12-31T23:59+00:00"}
    assert offer.text.splitlines()[2] == "Expiring offer! 2026-12-31T23:59+00:00"
    assert offer.as_content()["offer"] == offer.offer
    # Meta's copy-code button has no text of its own: it shows WhatsApp's label.
    assert [b["text"] for b in offer.buttons if b["type"] == "copy_code"] == ["Copy offer code"]
    carousel = template_render(template=unsaved("summer_carousel"), parameters=SENDS["summer_carousel"]["parameters"])
    assert carousel.cards == [{
        "header_format": "IMAGE", "header_media": {"type": "image", "id": "1558081531584829"},
        "body": "Add a little intrigue to your space with this stunning succulent.",
        "buttons": [{"type": "quick_reply", "text": "Send more like this", "payload": "more-like-this"},
                    {"type": "url", "text": "Buy now", "url": "https://www.luckyshrub.com/shop?promo=blue_elf"}],
    }]
    assert "[image]\nAdd a little intrigue" in carousel.text and "[Buy now]" in carousel.text


@pytest.mark.parametrize(("name", "parameters", "field", "code"), [
    ("limited_offer", {"header": {"link": "https://x.test/a.png"}, "body": ["Pablo", "C25"],
                       "buttons": {"0": "C25", "1": "x"}}, "limited_time_offer", "required"),
    ("limited_offer", {"header": {"link": "https://x.test/a.png"}, "limited_time_offer": "next week",
                       "body": ["Pablo", "C25"], "buttons": {"0": "C25", "1": "x"}}, "limited_time_offer", "invalid"),
    ("summer_carousel", {"body": ["Pablo"]}, "cards", "count"),
    ("summer_carousel", {"body": ["Pablo"], "cards": [{"buttons": {"1": "x"}}]}, "cards[0].header", "required"),
    ("summer_carousel", {"body": ["Pablo"], "cards": [{"header": {"link": "https://x.test/a.png"}}]},
     "cards[0].buttons[1]", "required"),
    ("signup_flow", {"buttons": {"0": {"flow_action_data": "not an object"}}}, "buttons[0].flow_action_data",
     "invalid"),
    ("catalog_offer", {"buttons": {"0": {"thumbnail_product_retailer_id": 12}}}, "buttons[0]", "invalid"),
])
def test_a_part_s_missing_or_bad_parameter_is_named(name, parameters, field, code):
    with pytest.raises(SendError) as refused:
        template_render(template=unsaved(name), parameters=parameters)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_flow_or_catalog_button_may_be_left_to_meta_s_default():
    assert template_render(template=unsaved("signup_flow"), parameters={}).components == []
    assert template_render(template=unsaved("catalog_offer"), parameters={}).components == [
        {"type": "button", "sub_type": "catalog", "index": "0", "parameters": [{"type": "action", "action": {}}]}]


# --- end to end, against the simulator ------------------------------------------------------


@pytest.fixture
def conversation(simulator):  # noqa: F811
    conversation = ConversationFactory()
    for name, item in DEFINED.items():
        SimulatedTemplate.objects.create(
            meta_id=item["id"], waba_id=conversation.number.waba_id, name=name, language=item["language"],
            category=item["category"], status="APPROVED", components=item["components"],
            parameter_format=item.get("parameter_format", "POSITIONAL"))
    template_sync(organization=conversation.organization)
    return conversation


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(SENDS))
def test_each_kind_is_sent_through_meta_s_checks(conversation, name):
    message = message_send(conversation=conversation, author=None, author_type="agent", kind="template",
                           payload={"name": name, "language": "en_US", **SENDS[name]["parameters"]})
    message.refresh_from_db()
    assert message.status == Status.SENT, (message.error_code, message.error_message)
    sent = SimulatedMessage.objects.get(wamid=message.wamid).payload["template"]
    assert sent == {"name": name, "language": {"code": "en_US"},
                    **({"components": SENDS[name]["components"]} if SENDS[name]["components"] else {})}


def graph_send(conversation, name, components):
    return client_for(conversation.number).send_message({
        "to": conversation.contact.wa_id, "type": "template",
        "template": {"name": name, "language": {"code": "en_US"}, "components": components}})


@pytest.mark.django_db(transaction=True)
def test_the_simulator_refuses_missing_or_mismatched_parts_as_meta_does(conversation):
    offer = [c for c in SENDS["limited_offer"]["components"] if c["type"] != "limited_time_offer"]
    card = json.loads(json.dumps(SENDS["summer_carousel"]["components"]))
    card[1]["cards"][0]["components"][0]["parameters"] = [{"type": "video", "video": {"id": "1"}}]
    flow = [{"type": "button", "sub_type": "flow", "index": "0", "parameters": [{"type": "text", "text": "x"}]}]
    cases = [("limited_offer", offer, 131008), ("summer_carousel", card, 132012),
             ("summer_carousel", SENDS["summer_carousel"]["components"][:1], 131008),
             ("signup_flow", flow, 131009), ("catalog_offer", [], 131008)]
    for name, components, code in cases:
        with pytest.raises(GraphAPIError) as refused:
            graph_send(conversation, name, components)
        assert refused.value.code == code, name


@pytest.fixture
def world():
    return build_world()


@pytest.mark.django_db
def test_the_picker_collects_a_carousel_s_and_an_offer_s_parameters(world):
    world.number.waba_id = world.number.waba_id or "WABA1"
    world.number.save()
    made = {name: MessageTemplate.objects.create(
        organization=world.org, waba_id=world.number.waba_id, name=name, language="en_US",
        category=DEFINED[name]["category"], status="APPROVED", components=DEFINED[name]["components"])
        for name in ("summer_carousel", "limited_offer")}
    agent = browser(world.agent)
    form = agent.get(reverse("inbox:template_form", args=[world.mine.pk, made["summer_carousel"].pk])).content.decode()
    assert 'name="slot_card.0.header"' in form and 'name="slot_card.0.button.1"' in form and "Card 1" in form
    preview = agent.post(reverse("inbox:template_preview", args=[world.mine.pk, made["summer_carousel"].pk]), {
        "slot_body.1": "Pablo", "slot_card.0.header": "https://x.test/a.png", "slot_card.0.button.1": "blue_elf",
    }).content.decode()
    assert "data-template-cards" in preview and "Add a little intrigue" in preview
    response = agent.post(reverse("inbox:send", args=[world.mine.pk]), {
        "kind": "template", "template": made["summer_carousel"].pk, "slot_body.1": "Pablo",
        "slot_card.0.header": "https://x.test/a.png", "slot_card.0.button.1": "blue_elf",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    message = Message.objects.get(conversation=world.mine, direction=Direction.OUTBOUND)
    assert message.content["components"][1] == {"type": "carousel", "cards": [{"card_index": 0, "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.test/a.png"}}]},
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "blue_elf"}]},
    ]}]}
    form = agent.get(reverse("inbox:template_form", args=[world.mine.pk, made["limited_offer"].pk])).content.decode()
    assert 'type="datetime-local" name="slot_offer"' in form and "Offer expires" in form
    response = agent.post(reverse("inbox:send", args=[world.mine.pk]), {
        "kind": "template", "template": made["limited_offer"].pk, "slot_header": "https://x.test/a.png",
        "slot_offer": "2026-12-31T23:59", "slot_body.1": "Pablo", "slot_body.2": "C25", "slot_button.0": "C25",
        "slot_button.1": "n3mtql",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    sent = Message.objects.filter(conversation=world.mine, direction=Direction.OUTBOUND).latest("pk")
    assert sent.content["components"][1]["type"] == "limited_time_offer"
