"""The thread page and the message partial: every message type, ticks, notes, days,
mark-read on open, retry, older pages, and a constant number of queries."""

from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.conversations.tests.factories import NoteFactory
from apps.inbox.tests.helpers import partial
from apps.media.models import Media
from apps.media.tests.factories import MediaFactory, StoredMediaFactory
from apps.messaging.models import Message, Reaction, Status
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.simulator.models import SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401

pytestmark = pytest.mark.django_db


# --- Every message type ---------------------------------------------------------------


def test_text_is_escaped_and_links_are_safe(agent_client, world):
    message = MessageFactory(conversation=world.mine, text="hi <script>alert(1)</script> see https://example.com/a?b=1&c=2\nbye")
    html = partial(agent_client, message)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" target="_blank">' in html
    assert "<br>bye" in html
    assert 'class="message in' in html and "Customer" in html


def test_javascript_links_are_not_linked(agent_client, world):
    message = MessageFactory(conversation=world.mine, text="javascript:alert(1) and <a href=x>")
    html = partial(agent_client, message)
    assert 'href="javascript' not in html and "&lt;a href=x&gt;" in html


def test_image_with_caption_uses_the_checked_media_link(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="image", text="my cat", content={"caption": "my cat"})
    media = StoredMediaFactory(message=message, kind="image", mime_type="image/jpeg", filename="cat.jpg")
    html = partial(agent_client, message)
    assert f'src="{reverse("media:open", args=[media.pk])}"' in html
    assert 'alt="my cat"' in html and "my cat" in html


def test_image_not_downloaded_yet_says_so(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="image", text="", content={})
    MediaFactory(message=message)
    html = partial(agent_client, message)
    assert "<img" not in html and "media-state state-pending" in html


def test_failed_download_shows_the_reason(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="video", text="", content={})
    MediaFactory(message=message, state=Media.State.FAILED, error="Meta answered 404")
    html = partial(agent_client, message)
    assert "could not be downloaded" in html and "Meta answered 404" in html


def test_video_player(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="video", text="", content={})
    media = StoredMediaFactory(message=message, kind="video", mime_type="video/mp4", filename="clip.mp4")
    html = partial(agent_client, message)
    assert f'<video class="media video" controls preload="metadata" src="{reverse("media:open", args=[media.pk])}"' in html


def test_voice_note_is_marked(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="audio", text="", content={"voice": True})
    StoredMediaFactory(message=message, kind="audio", mime_type="audio/ogg", filename="voice.ogg")
    html = partial(agent_client, message)
    assert "Voice message" in html and 'class="media audio voice"' in html


def test_plain_audio_is_not_a_voice_note(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="audio", text="", content={})
    StoredMediaFactory(message=message, kind="audio", mime_type="audio/mpeg", filename="song.mp3")
    html = partial(agent_client, message)
    assert "Voice message" not in html and 'class="media audio"' in html


def test_document_with_name_and_size(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="document", text="invoice.pdf", content={"filename": "invoice.pdf"})
    media = StoredMediaFactory(message=message, size=2_500_000)
    html = partial(agent_client, message)
    assert f'href="{reverse("media:open", args=[media.pk])}" download="invoice.pdf">invoice.pdf</a>' in html
    assert "(2.4\xa0MB)" in html and "application/pdf" in html


def test_sticker(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="sticker", text="", content={"animated": True})
    StoredMediaFactory(message=message, kind="sticker", mime_type="image/webp", filename="s.webp")
    html = partial(agent_client, message)
    assert 'class="media sticker"' in html and 'alt="Animated sticker"' in html


def test_location_links_to_openstreetmap(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="location", text="Office",
                             content={"latitude": -23.55052, "longitude": -46.633308, "name": "Office", "address": "Av. Paulista"})
    html = partial(agent_client, message)
    assert "https://www.openstreetmap.org/?mlat=-23.550520&amp;mlon=-46.633308" in html
    assert "Office" in html and "Av. Paulista" in html


def test_location_with_impossible_coordinates_has_no_map_link(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="location", text="", content={"latitude": 200, "longitude": "x"})
    assert "openstreetmap" not in partial(agent_client, message)


def test_contact_cards(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="contacts", text="Maria Silva", content={"contacts": [{
        "name": {"formatted_name": "Maria Silva", "first_name": "Maria"}, "org": {"company": "ACME"},
        "phones": [{"phone": "+55 11 91234-5678", "type": "CELL", "wa_id": "5511912345678"}],
        "emails": [{"email": "maria@example.com", "type": "WORK"}],
    }]})
    html = partial(agent_client, message)
    assert "Maria Silva" in html and "ACME" in html
    assert 'href="tel:+55 11 91234-5678"' in html and 'href="mailto:maria@example.com"' in html


def test_interactive_buttons_as_the_customer_saw_them(agent_client, world):
    message = OutboundMessageFactory(conversation=world.mine, type="interactive", text="Pick one", content={
        "type": "button", "header": {"type": "text", "text": "Delivery"}, "body": {"text": "Pick one"},
        "footer": {"text": "Reply in 24h"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "Morning"}},
                               {"type": "reply", "reply": {"id": "b", "title": "Evening"}}]},
    })
    html = partial(agent_client, message)
    assert "Delivery" in html and "Pick one" in html and "Reply in 24h" in html
    assert "<li>Morning</li><li>Evening</li>" in html


def test_interactive_list_as_the_customer_saw_it(agent_client, world):
    message = OutboundMessageFactory(conversation=world.mine, type="interactive", text="Our menu", content={
        "type": "list", "body": {"text": "Our menu"},
        "action": {"button": "See options", "sections": [
            {"title": "Pizzas", "rows": [{"id": "1", "title": "Margherita", "description": "Tomato, basil"}]}]},
    })
    html = partial(agent_client, message)
    assert "See options" in html and "Pizzas" in html and "Margherita" in html and "Tomato, basil" in html


def test_the_customers_button_and_list_answers(agent_client, world):
    button = MessageFactory(conversation=world.mine, type="interactive", text="Morning",
                            content={"type": "button_reply", "button_reply": {"id": "a", "title": "Morning"}})
    row = MessageFactory(conversation=world.mine, type="interactive", text="Margherita",
                         content={"type": "list_reply", "list_reply": {"id": "1", "title": "Margherita",
                                                                      "description": "Tomato, basil"}})
    quick = MessageFactory(conversation=world.mine, type="button", text="Stop promotions",
                           content={"text": "Stop promotions", "payload": "STOP"})
    assert "↩ <strong>Morning</strong>" in partial(agent_client, button)
    assert "Tomato, basil" in partial(agent_client, row)
    assert "↩ <strong>Stop promotions</strong>" in partial(agent_client, quick)


def test_template_as_rendered(agent_client, world):
    message = OutboundMessageFactory(
        conversation=world.mine, type="template", text="Hello Ana, your order 42 shipped.", status=Status.DELIVERED,
        content={"name": "order_shipped", "language": {"code": "en_US"},
                 "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]},
    )
    html = partial(agent_client, message)
    assert "Template order_shipped (en_US)" in html and "Hello Ana, your order 42 shipped." in html


def test_template_with_header_footer_and_buttons(agent_client, world):
    message = OutboundMessageFactory(
        conversation=world.mine, type="template", text="Body text",
        content={"name": "promo", "language": {"code": "pt_BR"},
                 "rendered": {"header": "Big sale", "body": "Body text", "footer": "Reply STOP",
                              "buttons": [{"type": "QUICK_REPLY", "text": "Tell me more"}]}},
    )
    html = partial(agent_client, message)
    assert "Big sale" in html and "Reply STOP" in html and "<li>Tell me more</li>" in html


def test_a_sent_offer_and_carousel_show_their_parts(agent_client, world):
    """A limited-time offer's line and a carousel's cards, as the customer got them, not
    the message's plain text alone."""
    message = OutboundMessageFactory(
        conversation=world.mine, type="template", text="Hi Pablo",
        content={"name": "summer_deals", "language": {"code": "en_US"},
                 "rendered": {"body": "Hi Pablo", "buttons": [{"type": "copy_code", "text": "Copy offer code"}],
                              "offer": {"text": "Expiring offer!", "has_expiration": True,
                                        "expires_at": "2026-12-31T23:59+00:00"},
                              "cards": [{"header_format": "IMAGE", "body": "A stunning <succulent>",
                                         "buttons": [{"type": "url", "text": "Buy now"}]},
                                        {"header_format": "VIDEO", "body": "Second card", "buttons": []}]}},
    )
    html = partial(agent_client, message)
    assert 'class="template-offer"' in html and "Expiring offer!" in html
    assert '<time datetime="2026-12-31T23:59+00:00">' in html
    assert html.count('class="template-card"') == 2
    assert "A stunning &lt;succulent&gt;" in html and "Buy now" in html and "[video]" in html
    assert "<li>Copy offer code</li>" in html


def test_a_template_without_offer_or_cards_shows_neither(agent_client, world):
    message = OutboundMessageFactory(
        conversation=world.mine, type="template", text="Plain",
        content={"name": "plain", "language": "en_US", "rendered": {"body": "Plain", "offer": "x", "cards": "y"}},
    )
    html = partial(agent_client, message)
    assert "template-offer" not in html and "template-card" not in html


def test_reactions_under_their_message(agent_client, world):
    message = OutboundMessageFactory(conversation=world.mine, text="Done!", wamid="wamid.R1", status=Status.READ)
    Reaction.objects.create(organization=world.org, number=world.number, target_wamid="wamid.R1", message=message,
                            direction="in", reactor=world.mine.contact.wa_id, emoji="👍")
    html = partial(agent_client, message)
    assert '<ul class="reactions"' in html and "👍" in html


def _react(client, conversation, message, emoji, commit):
    with commit(execute=True):
        response = client.post(reverse("inbox:react", args=[conversation.pk]),
                               {"message": message.pk, "emoji": emoji}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content


def test_the_agent_s_reaction_sits_under_its_message_not_in_a_bubble_of_its_own(
        agent_client, world, simulator, published, django_capture_on_commit_callbacks):
    target = world.mine.messages.get()
    _react(agent_client, world.mine, target, "🙏", django_capture_on_commit_callbacks)
    reaction = Message.objects.get(conversation=world.mine, type="reaction")
    assert reaction.content == {"message_id": target.wamid, "emoji": "🙏"}
    # Under the message it reacts to, as the business's, live (message.updated of the target) ...
    html = partial(agent_client, target)
    assert '<ul class="reactions"' in html and 'title="Business">🙏</li>' in html
    updated = [d for e, d, _g in published if e == "message.updated" and d["id"] == target.pk]
    assert updated and updated[-1]["reactions"][0]["emoji"] == "🙏" and updated[-1]["reactions"][0]["direction"] == "out"
    # ... and not as a bubble: its own partial is empty, the page does not show it.
    assert agent_client.get(reverse("inbox:message", args=[reaction.pk])).status_code == 204
    page = agent_client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    assert "Reacted" not in page and f'id="m{reaction.pk}"' not in page and "🙏" in page
    # A new emoji replaces it; an empty one removes it.
    _react(agent_client, world.mine, target, "👍", django_capture_on_commit_callbacks)
    assert list(Reaction.objects.filter(message=target).values_list("reactor", "emoji")) == [("business", "👍")]
    _react(agent_client, world.mine, target, "", django_capture_on_commit_callbacks)
    assert not Reaction.objects.filter(message=target).exists()
    assert '<ul class="reactions"' not in partial(agent_client, target)


def test_the_customer_s_and_the_agent_s_reactions_side_by_side(agent_client, world, simulator,
                                                              django_capture_on_commit_callbacks):
    target = world.mine.messages.get()
    Reaction.objects.create(organization=world.org, number=world.number, target_wamid=target.wamid, message=target,
                            direction="in", reactor=world.mine.contact.wa_id, emoji="❤️")
    _react(agent_client, world.mine, target, "🙏", django_capture_on_commit_callbacks)
    html = partial(agent_client, target)
    assert 'title="Customer">❤️</li>' in html and 'title="Business">🙏</li>' in html


def test_a_failed_reaction_shows_as_a_bubble_with_its_failure(agent_client, world):
    failed = OutboundMessageFactory(conversation=world.mine, type="reaction", text="❤️", status=Status.FAILED,
                                    content={"message_id": "wamid.X", "emoji": "❤️"}, error_code=131000,
                                    error_title="Something went wrong")
    html = partial(agent_client, failed)
    assert "Reacted ❤️" in html and "Not delivered" in html and 'data-action="retry"' in html


def test_reply_shows_the_quoted_message(agent_client, world):
    original = MessageFactory(conversation=world.mine, text="Where is my order?")
    reply = OutboundMessageFactory(conversation=world.mine, text="On its way", reply_to=original,
                                   reply_to_wamid=original.wamid)
    html = partial(agent_client, reply)
    assert f'href="#m{original.pk}"' in html and "Where is my order?" in html
    unknown = MessageFactory(conversation=world.mine, text="and this?", reply_to_wamid="wamid.UNKNOWN")
    assert "not in this inbox" in partial(agent_client, unknown)


def test_system_message(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="system", author_type="system",
                             text="User changed number", content={"body": "User changed number", "type": "user_changed_number"})
    html = partial(agent_client, message)
    assert 'class="message system' in html and "User changed number" in html


def test_edited_message_has_a_mark_and_history_on_demand(agent_client, world):
    message = MessageFactory(conversation=world.mine, text="new text", edited_at=timezone.now(),
                             edit_history=[{"wamid": "wamid.E", "text": "old text", "content": {"body": "old text"},
                                            "edited_at": "2026-01-01T10:00:00+00:00"}])
    html = partial(agent_client, message)
    assert "edited" in html and reverse("inbox:history", args=[message.pk]) in html and "old text" not in html
    history = agent_client.get(reverse("inbox:history", args=[message.pk])).content.decode()
    assert "old text" in history


def test_revoked_message_is_shown_deleted(agent_client, world):
    message = MessageFactory(conversation=world.mine, text="", content={}, status=Status.DELETED,
                             deleted_at=timezone.now())
    html = partial(agent_client, message)
    assert "This message was deleted" in html and 'data-action="reply"' not in html


def test_unsupported_message_with_metas_reason(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="unsupported", text="", content={"original_type": "unknown"},
                             errors=[{"code": 131051, "title": "Message type unknown",
                                      "message": "Message type unknown",
                                      "error_data": {"details": "Message type is currently not supported."}}])
    html = partial(agent_client, message)
    assert "Unsupported message" in html and "Message type is currently not supported. (131051)" in html


def test_order_message(agent_client, world):
    message = MessageFactory(conversation=world.mine, type="order", text="please hurry", content={
        "catalog_id": "1", "text": "please hurry",
        "product_items": [{"product_retailer_id": "SKU-9", "quantity": 2, "item_price": 10.5, "currency": "BRL"}]})
    html = partial(agent_client, message)
    row = "<tr><td>2</td><td>SKU-9</td><td>10.5 BRL</td><td>21.0 BRL</td></tr>"
    assert row in html and "<td data-order-total>21.0 BRL</td>" in html and "please hurry" in html


@pytest.mark.parametrize("status,label", [
    (Status.PENDING, "Pending"), (Status.SENT, "Sent"), (Status.DELIVERED, "Delivered"), (Status.READ, "Read"),
    (Status.PLAYED, "Played"),
])
def test_status_ticks(agent_client, world, status, label):
    message = OutboundMessageFactory(conversation=world.mine, text="hi", status=status, author=world.agent)
    html = partial(agent_client, message)
    assert f'data-tick="{status}"' in html and f'<span class="visually-hidden">{label}</span>' in html
    assert world.agent.name in html  # the agent's name as author


def test_failed_message_shows_metas_error_and_a_retry_button(agent_client, world):
    message = OutboundMessageFactory(conversation=world.mine, text="hi", status=Status.FAILED, error_code=131026,
                                     error_title="Message undeliverable", error_details="Receiver is incapable")
    html = partial(agent_client, message)
    assert "Not delivered (131026): Message undeliverable — Receiver is incapable" in html
    assert reverse("inbox:retry", args=[message.pk]) in html


@pytest.mark.parametrize("author_type,label", [("bot", "Bot"), ("integration", "Business system")])
def test_bot_and_business_system_authors(agent_client, world, author_type, label):
    message = OutboundMessageFactory(conversation=world.mine, text="auto", author_type=author_type)
    assert f'<p class="author">{label}' in partial(agent_client, message)


def test_note_partial(agent_client, world):
    note = NoteFactory(conversation=world.mine, author=world.colleague, body="Call her <b>after</b> 5")
    html = agent_client.get(reverse("inbox:note", args=[note.pk])).content.decode()
    assert "Private note" in html and world.colleague.name in html and "&lt;b&gt;after&lt;/b&gt;" in html


# --- The page -------------------------------------------------------------------------


def test_thread_page_interleaves_notes_and_separates_days_in_the_organisations_zone(agent_client, world):
    world.org.timezone = "America/Sao_Paulo"
    world.org.save()
    # 01:30 UTC is still the previous day in São Paulo (UTC-3).
    first = MessageFactory(conversation=world.mine, text="late evening",
                           timestamp=datetime(2026, 3, 10, 1, 30, tzinfo=dt_timezone.utc))
    NoteFactory(conversation=world.mine, body="checking stock", created_at=datetime(2026, 3, 10, 1, 40, tzinfo=dt_timezone.utc))
    MessageFactory(conversation=world.mine, text="next morning", timestamp=datetime(2026, 3, 10, 12, 0, tzinfo=dt_timezone.utc))
    Message.objects.filter(conversation=world.mine).exclude(pk=first.pk).exclude(text="next morning").delete()
    html = agent_client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    days = [chunk.split('"')[0] for chunk in html.split('class="day-separator" data-day="')[1:]]
    assert days == ["2026-03-09", "2026-03-10"]
    assert html.index("late evening") < html.index("checking stock") < html.index("next morning")
    assert 'class="note"' in html


def test_opening_marks_the_conversation_read_and_tells_meta(client, world, simulator, published):
    message = MessageFactory(conversation=world.mine, text="unread one")
    Conversation.objects.filter(pk=world.mine.pk).update(unread_count=2)
    client.force_login(world.agent)
    response = client.get(reverse("inbox:conversation", args=[world.mine.pk]))
    assert response.status_code == 200
    world.mine.refresh_from_db()
    message.refresh_from_db()
    assert world.mine.unread_count == 0 and message.read_at is not None
    reads = [r.body for r in SimulatedRequest.objects.filter(method="POST") if (r.body or {}).get("status") == "read"]
    assert reads and reads[-1]["message_id"] == Message.objects.filter(conversation=world.mine).order_by("-timestamp", "-id").first().wamid
    assert any(event == "conversation.updated" for event, _, _ in published)


def test_opening_does_not_tell_meta_when_the_organisation_says_no(client, world, simulator):
    world.org.mark_read_on_open = False
    world.org.save()
    MessageFactory(conversation=world.mine, text="unread one")
    client.force_login(world.agent)
    client.get(reverse("inbox:conversation", args=[world.mine.pk]))
    assert not [r for r in SimulatedRequest.objects.all() if (r.body or {}).get("status") == "read"]
