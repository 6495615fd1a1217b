"""The composer's views: every kind it sends, refusals with the exact reason (and
nothing stored), canned responses and the template picker."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from apps.conversations.tests.factories import CannedResponseFactory
from apps.inbox.tests.helpers import client_for
from apps.media.models import Media
from apps.message_templates.models import MessageTemplate
from apps.messaging.models import Direction, Message
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def send(user, conversation, data, name="send"):
    return client_for(user).post(reverse(f"inbox:{name}", args=[conversation.pk]), data, HTTP_HX_REQUEST="true")


def outbound(conversation):
    return Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_text_is_stored_pending_and_the_composer_told_to_clear(world, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = send(world.agent, world.mine, {"kind": "text", "body": "Your parcel left today"})
    assert response.status_code == 200
    assert "composer:sent" in response["HX-Trigger"]
    message = outbound(world.mine).get()
    assert (message.type, message.text, message.author) == ("text", "Your parcel left today", world.agent)


def test_reply_to_a_message_of_the_conversation(world):
    original = world.mine.messages.get()
    response = send(world.agent, world.mine, {"kind": "text", "body": "Yes", "reply_to": original.pk})
    assert response.status_code == 200
    assert outbound(world.mine).get().reply_to == original


def test_reply_to_a_message_of_another_conversation_is_refused(world):
    other = MessageFactory(conversation=world.unassigned)
    response = send(world.agent, world.mine, {"kind": "text", "body": "Yes", "reply_to": other.pk})
    assert response.status_code == 422
    assert "The message replied to is not in this conversation." in response.content.decode()
    assert not outbound(world.mine).exists()


def test_closed_window_refuses_free_text_with_the_reason(world):
    world.mine.last_customer_message_at = timezone.now() - timedelta(hours=25)
    world.mine.save()
    response = send(world.agent, world.mine, {"kind": "text", "body": "Hello?"})
    assert response.status_code == 422
    assert "only an approved template can be sent" in response.content.decode()
    assert not outbound(world.mine).exists()


def test_too_long_text_names_the_limit(world):
    response = send(world.agent, world.mine, {"kind": "text", "body": "x" * 4097})
    assert response.status_code == 422
    assert "text.body is too long: at most 4096 characters (it has 4097)." in response.content.decode()


def test_agent_without_access_cannot_send(world):
    assert send(world.agent, world.colleagues, {"kind": "text", "body": "hi"}).status_code == 404
    assert send(world.agent, world.foreign, {"kind": "text", "body": "hi"}).status_code == 404
    assert not outbound(world.colleagues).exists() and not outbound(world.foreign).exists()


def test_file_is_uploaded_and_sent_as_its_detected_kind(world):
    upload = SimpleUploadedFile("photo.bin", png_bytes(), content_type="application/octet-stream")
    response = send(world.agent, world.mine, {"file": upload, "caption": "The damaged box"}, name="send_file")
    assert response.status_code == 200, response.content
    message = outbound(world.mine).get()
    assert (message.type, message.text) == ("image", "The damaged box")
    assert Media.objects.get(message=message).kind == "image"


def test_file_of_an_unaccepted_type_is_refused_and_nothing_sent(world):
    upload = SimpleUploadedFile("run.exe", b"MZ\x90\x00" + b"\x00" * 200, content_type="application/octet-stream")
    response = send(world.agent, world.mine, {"file": upload}, name="send_file")
    assert response.status_code == 422
    assert response.content.decode().count("<p>") >= 1
    assert not outbound(world.mine).exists()


def test_file_with_the_window_closed_is_refused_before_it_is_stored(world):
    world.mine.last_customer_message_at = timezone.now() - timedelta(days=2)
    world.mine.save()
    upload = SimpleUploadedFile("photo.png", png_bytes())
    response = send(world.agent, world.mine, {"file": upload}, name="send_file")
    assert response.status_code == 422 and "only an approved template" in response.content.decode()
    assert not Media.objects.exists()


def test_missing_file_is_named(world):
    response = send(world.agent, world.mine, {"caption": "x"}, name="send_file")
    assert response.status_code == 422 and "Choose a file to send." in response.content.decode()


def test_location_is_sent_and_a_bad_latitude_named(world):
    response = send(world.agent, world.mine, {"kind": "location", "latitude": "38.72", "longitude": "-9.14",
                                              "name": "Our shop", "address": "Rua Augusta 1"})
    assert response.status_code == 200
    assert outbound(world.mine).get().content == {"latitude": 38.72, "longitude": -9.14, "name": "Our shop",
                                                  "address": "Rua Augusta 1"}
    response = send(world.agent, world.mine, {"kind": "location", "latitude": "123", "longitude": "0"})
    assert response.status_code == 422
    assert "location.latitude must be between -90 and 90." in response.content.decode()


def test_interactive_buttons_from_the_builder(world):
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "button", "ibody": "Pick one",
                                              "button_title": ["Yes", "No", ""]})
    assert response.status_code == 200
    action = outbound(world.mine).get().content["action"]
    assert action == {"buttons": [{"type": "reply", "reply": {"id": "b1", "title": "Yes"}},
                                  {"type": "reply", "reply": {"id": "b2", "title": "No"}}]}


def test_interactive_list_with_sections_and_rows(world):
    response = send(world.agent, world.mine, {
        "kind": "interactive", "itype": "list", "ibody": "Choose a slot", "list_button": "Slots",
        "section_title": ["Morning", "Afternoon"],
        "row_section": ["0", "0", "1"], "row_title": ["9:00", "10:00", "15:00"], "row_description": ["", "", "late"],
    })
    assert response.status_code == 200, response.content
    action = outbound(world.mine).get().content["action"]
    assert action["button"] == "Slots"
    assert action["sections"] == [
        {"title": "Morning", "rows": [{"id": "r1", "title": "9:00"}, {"id": "r2", "title": "10:00"}]},
        {"title": "Afternoon", "rows": [{"id": "r3", "title": "15:00", "description": "late"}]},
    ]


def test_a_link_button_and_a_location_request_from_the_builder(world):
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "cta_url", "ibody": "Your invoice",
                                              "cta_text": "Open", "cta_url": "https://shop.example/i/1",
                                              "button_title": ["ignored"]})
    assert response.status_code == 200, response.content
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "location_request_message",
                                              "ibody": "Where should we deliver?"})
    assert response.status_code == 200, response.content
    link, where = outbound(world.mine).order_by("pk")
    assert link.content["action"] == {"name": "cta_url",
                                      "parameters": {"display_text": "Open", "url": "https://shop.example/i/1"}}
    assert where.content["action"] == {"name": "send_location"}
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "cta_url", "ibody": "x",
                                               "cta_text": "Open", "cta_url": "ftp://x"})
    assert response.status_code == 422 and "interactive.url must be an http(s) URL." in response.content.decode()


def test_the_thread_shows_a_location_request_with_its_button(world):
    from apps.inbox.presenters import message_view

    send(world.agent, world.mine, {"kind": "interactive", "itype": "location_request_message", "ibody": "Where?"})
    view = message_view(outbound(world.mine).get())
    assert (view["interactive"]["body"], view["interactive"]["buttons"]) == ("Where?", ["Send location"])


def test_interactive_button_title_too_long_is_named(world):
    response = send(world.agent, world.mine, {"kind": "interactive", "itype": "button", "ibody": "Pick",
                                              "button_title": ["An answer far too long for a button"]})
    assert response.status_code == 422
    assert "interactive.buttons[0].title is too long" in response.content.decode()


def test_reaction_and_its_removal(world):
    target = world.mine.messages.get()
    assert send(world.agent, world.mine, {"message": target.pk, "emoji": "👍"}, name="react").status_code == 200
    assert send(world.agent, world.mine, {"message": target.pk, "emoji": ""}, name="react").status_code == 200
    reactions = list(outbound(world.mine).filter(type="reaction").order_by("pk").values_list("content", flat=True))
    assert reactions == [{"message_id": target.wamid, "emoji": "👍"}, {"message_id": target.wamid, "emoji": ""}]


def test_reaction_to_a_message_of_another_conversation_is_refused(world):
    other = MessageFactory(conversation=world.unassigned)
    response = send(world.agent, world.mine, {"message": other.pk, "emoji": "👍"}, name="react")
    assert response.status_code == 422
    assert not outbound(world.mine).exists()


def test_canned_suggestions_are_the_organisation_s_only(world):
    CannedResponseFactory(organization=world.org, shortcut="help", body="How can we help?")
    CannedResponseFactory(organization=world.foreign_org, shortcut="hello-foreign", body="Foreign text")
    response = client_for(world.agent).get(reverse("inbox:canned", args=[world.mine.pk]), {"q": "/he"})
    assert [r["shortcut"] for r in response.json()["results"]] == ["hello", "help"]
    assert client_for(world.agent).get(reverse("inbox:canned", args=[world.foreign.pk]), {"q": "/"}).status_code == 404


# --- Templates ---------------------------------------------------------------------------


@pytest.fixture
def template(world):
    world.number.waba_id = world.number.waba_id or "WABA1"
    world.number.save()
    return MessageTemplate.objects.create(
        organization=world.org, waba_id=world.number.waba_id, name="order_update", language="en",
        category="UTILITY", status="APPROVED", parameter_format="NAMED",
        components=[{"type": "HEADER", "format": "TEXT", "text": "Order {{order}}"},
                    {"type": "BODY", "text": "Hello {{first_name}}, your order {{order}} ships {{day}}."},
                    {"type": "FOOTER", "text": "Reply STOP to opt out"}],
    )


def test_template_picker_lists_approved_templates_only(world, template):
    MessageTemplate.objects.create(organization=world.org, waba_id=world.number.waba_id, name="draft_one",
                                   language="en", category="UTILITY", status="PENDING")
    html = client_for(world.agent).get(reverse("inbox:templates", args=[world.mine.pk]), {"q": ""}).content.decode()
    assert "order_update" in html and "draft_one" not in html


def test_template_form_prefills_from_the_contact_and_previews(world, template):
    world.mine.contact.attributes = {"order": "A-17"}
    world.mine.contact.save()
    html = client_for(world.agent).get(
        reverse("inbox:template_form", args=[world.mine.pk, template.pk])).content.decode()
    assert 'name="slot_body.first_name" value="Alice"' in html and 'name="slot_body.order" value="A-17"' in html
    assert "Hello Alice, your order A-17 ships [day]." in html and "Order A-17" in html
    assert "Body parameter {{day}} is empty." in html
    response = client_for(world.agent).post(
        reverse("inbox:template_preview", args=[world.mine.pk, template.pk]),
        {"slot_header.order": "A-17", "slot_body.first_name": "Alice", "slot_body.order": "A-17", "slot_body.day": "today"})
    assert "Hello Alice, your order A-17 ships today." in response.content.decode()


def test_template_is_sent_with_the_window_closed(world, template):
    world.mine.last_customer_message_at = timezone.now() - timedelta(days=3)
    world.mine.save()
    response = send(world.agent, world.mine, {
        "kind": "template", "template": template.pk, "slot_header.order": "A-17",
        "slot_body.first_name": "Alice", "slot_body.order": "A-17", "slot_body.day": "today"})
    assert response.status_code == 200, response.content
    message = outbound(world.mine).get()
    assert message.type == "template"
    assert message.text == "Order A-17\n\nHello Alice, your order A-17 ships today.\n\nReply STOP to opt out"


def test_template_with_an_empty_parameter_is_refused_with_its_name(world, template):
    response = send(world.agent, world.mine, {
        "kind": "template", "template": template.pk, "slot_header.order": "A-17",
        "slot_body.first_name": "Alice", "slot_body.order": "A-17", "slot_body.day": ""})
    assert response.status_code == 422
    assert "day" in response.content.decode()
    assert not outbound(world.mine).exists()


def test_template_of_another_organisation_is_not_found(world, template):
    foreign = MessageTemplate.objects.create(organization=world.foreign_org, waba_id="X", name="foreign_t",
                                             language="en", category="UTILITY", status="APPROVED")
    response = client_for(world.agent).get(reverse("inbox:template_form", args=[world.mine.pk, foreign.pk]))
    assert response.status_code == 404
