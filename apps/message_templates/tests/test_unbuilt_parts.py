"""Templates with parts no send of ours carries yet (GIF or product header,
multi-product, single-product and voice-call buttons, call permission request): listed as not sendable with the reason, in the picker and the API, and
refused by message_send, until each part is built (fixture written from Meta's
template reference)."""

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.tests.worlds import build_world
from apps.accounts.tokens import token_issue
from apps.message_templates.models import MessageTemplate
from apps.message_templates.render import template_unsendable_reason, unsupported_parts
from apps.messaging.models import Message
from apps.messaging.services.send import message_send
from apps.messaging.validation import SendError

pytestmark = pytest.mark.django_db

PAGE = json.loads((Path(__file__).parent / "fixtures" / "templates_with_unbuilt_parts.json").read_text())
# The carousel, the limited-time offer, the flow and catalog buttons of the fixture are
# built (test_template_parts.py).
UNBUILT = {
    "gif_promo": ["GIF header"],
    "product_spotlight": ["PRODUCT header", "SPM button"],
    "several_products": ["MPM button"],
    "call_us": ["VOICE_CALL button"],
    "may_we_call": ["CALL_PERMISSION_REQUEST"],
}


@pytest.fixture
def world():
    world = build_world()
    world.number.waba_id = world.number.waba_id or "WABA1"
    world.number.save()
    for item in PAGE["data"]:
        MessageTemplate.objects.create(organization=world.org, waba_id=world.number.waba_id, name=item["name"],
                                       language=item["language"], category=item["category"],
                                       status=item["status"], components=item["components"], meta_id=item["id"])
    MessageTemplate.objects.create(organization=world.org, waba_id=world.number.waba_id, name="plain",
                                   language="en_US", category="UTILITY", status="APPROVED",
                                   components=[{"type": "BODY", "text": "Your order has shipped."}])
    return world


@pytest.mark.parametrize(("name", "parts"), sorted(UNBUILT.items()))
def test_each_unbuilt_part_makes_the_template_unsendable_with_the_reason(world, name, parts):
    template = MessageTemplate.objects.get(name=name)
    assert unsupported_parts(template) == parts
    reason = template_unsendable_reason(template)
    assert reason == (f"Template {name} has parts this inbox cannot send yet ({', '.join(parts)}): send it from "
                      "another tool, or use another template.")
    with pytest.raises(SendError) as refused:
        message_send(conversation=world.mine, kind="template", payload={"name": name, "language": "en_US"})
    assert (refused.value.field, refused.value.code, refused.value.message) == ("template.name", "not_approved", reason)
    assert not Message.objects.filter(conversation=world.mine).exclude(direction="in").exists()


def test_the_picker_lists_them_as_not_sendable_with_the_reason(world):
    client = Client()
    client.force_login(world.agent)
    html = client.get(reverse("inbox:templates", args=[world.mine.pk]), {"q": ""}).content.decode()
    assert html.count("data-template-unsendable") == len(UNBUILT)
    assert "MPM button" in html and "CALL_PERMISSION_REQUEST" in html
    plain = MessageTemplate.objects.get(name="plain")
    assert reverse("inbox:template_form", args=[world.mine.pk, plain.pk]) in html
    signup = MessageTemplate.objects.get(name="several_products")
    assert reverse("inbox:template_form", args=[world.mine.pk, signup.pk]) not in html
    form = client.get(reverse("inbox:template_form", args=[world.mine.pk, signup.pk])).content.decode()
    assert "Not sendable:" in form and 'class="primary" disabled' in form


def test_the_api_shows_them_as_not_sendable_with_the_reason(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=world.agent, name='t')[1]}")
    listed = client.get("/api/v1/templates/", {"number": world.number.pk}).json()
    rows = {row["name"]: row for row in listed.get("results", listed)}
    for name, parts in UNBUILT.items():
        assert rows[name]["sendable"] is False
        assert ", ".join(parts) in rows[name]["reason"]
    assert (rows["plain"]["sendable"], rows["plain"]["reason"]) == (True, "")
