"""Meta's capabilities are the rules the domain enforces: the window, the media kinds,
types and size limits, captions, interactive types, templates and reactions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from apps.conversations.models import Conversation
from apps.media import detect
from apps.messaging import validation
from apps.messaging.models import MessageType
from apps.messaging.validation import SendError, build_payload
from apps.providers.meta.capabilities import CAPABILITIES, KB, MB


def test_the_values_are_metas():
    assert CAPABILITIES.templates is True
    assert CAPABILITIES.reactions is True
    assert CAPABILITIES.customer_service_window == timedelta(hours=24)
    assert CAPABILITIES.media_kinds == ("image", "video", "audio", "document", "sticker")
    assert dict(CAPABILITIES.media_size_limits) == {
        "image": 5 * MB, "video": 16 * MB, "audio": 16 * MB, "document": 100 * MB, "sticker": 100 * KB}
    assert CAPABILITIES.animated_sticker_size_limit == 500 * KB
    assert CAPABILITIES.inbound_media_size_limit == 100 * MB
    assert CAPABILITIES.caption_kinds == ("image", "video", "document")
    assert CAPABILITIES.interactive_types == ("button", "list", "cta_url", "location_request_message", "flow",
                                              "product", "product_list", "call_permission_request", "voice_call")
    with pytest.raises(AttributeError):
        CAPABILITIES.templates = False  # frozen
    with pytest.raises(TypeError):
        CAPABILITIES.media_size_limits["image"] = 1  # read-only


def test_the_window_is_the_conversations():
    wrote = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    conversation = Conversation(last_customer_message_at=wrote)
    window = CAPABILITIES.customer_service_window
    assert conversation.window_expires_at == wrote + window
    assert conversation.window_open(now=wrote + window - timedelta(seconds=1))
    assert not conversation.window_open(now=wrote + window)


def test_the_media_kinds_are_the_ones_every_check_uses():
    kinds = CAPABILITIES.media_kinds
    assert detect.KINDS == validation.MEDIA_KINDS == kinds
    assert validation.CAPTION_KINDS == CAPABILITIES.caption_kinds
    assert set(kinds) <= set(MessageType.values)
    assert set(kinds) <= set(validation.KINDS)


@pytest.mark.parametrize("kind", CAPABILITIES.media_kinds)
def test_an_upload_is_held_to_the_kinds_types_and_size_limit(kind):
    limit = CAPABILITIES.media_size_limits[kind]
    assert detect.size_limit(kind) == limit
    for mime in CAPABILITIES.media_types[kind]:
        accepted = detect.check_upload(detected=detect.Detected(mime), size=limit, kind=kind)
        assert accepted[0] == kind
    mime = sorted(CAPABILITIES.media_types[kind])[0]
    with pytest.raises(ValueError, match="the limit for"):
        detect.check_upload(detected=detect.Detected(mime), size=limit + 1, kind=kind)
    other = next(m for k, types in CAPABILITIES.media_types.items() if k != kind for m in sorted(types)
                 if m not in CAPABILITIES.media_types[kind] and not (kind == "audio" and m == "video/mp4"))
    with pytest.raises(ValueError, match="WhatsApp accepts"):
        detect.check_upload(detected=detect.Detected(other), size=1, kind=kind)


def test_an_animated_sticker_has_its_own_limit():
    limit = CAPABILITIES.animated_sticker_size_limit
    webp = detect.Detected("image/webp", animated=True)
    assert detect.size_limit("sticker", animated=True) == limit
    assert detect.check_upload(detected=webp, size=limit, kind="sticker") == ("sticker", "image/webp")
    with pytest.raises(ValueError, match="animated sticker"):
        detect.check_upload(detected=webp, size=limit + 1, kind="sticker")


@pytest.mark.parametrize("kind", CAPABILITIES.media_kinds)
def test_only_the_caption_kinds_take_a_caption(kind):
    payload = {"id": "1234", "caption": "Look"}
    if kind in CAPABILITIES.caption_kinds:
        assert build_payload(kind, payload)["caption"] == "Look"
    else:
        with pytest.raises(SendError) as refused:
            build_payload(kind, payload)
        assert refused.value.code == "not_allowed"


INTERACTIVE = {
    "button": {"buttons": [{"id": "b1", "title": "Yes"}]},
    "list": {"button": "Slots", "sections": [{"rows": [{"id": "r1", "title": "9:00"}]}]},
    "cta_url": {"display_text": "Open", "url": "https://example.com/"},
    "location_request_message": {},
    "flow": {"flow_id": "1234567890", "flow_cta": "Book"},
    "product": {"catalog_id": "9876543210", "product_retailer_id": "SKU-1"},
    "product_list": {"header": "Our picks", "catalog_id": "9876543210",
                     "sections": [{"product_items": [{"product_retailer_id": "SKU-1"}]}]},
    "call_permission_request": {},
    "voice_call": {"display_text": "Call us", "ttl_minutes": 60},
}


def test_sending_accepts_the_interactive_types_and_no_other():
    assert set(INTERACTIVE) == set(CAPABILITIES.interactive_types)
    for kind, fields in INTERACTIVE.items():
        assert build_payload("interactive", {"type": kind, "body": "Pick", **fields})["type"] == kind
    with pytest.raises(SendError) as refused:
        build_payload("interactive", {"type": "carousel", "body": "Pick"})
    assert refused.value.field == "interactive.type"


def test_the_composer_offers_interactive_types_meta_supports():
    composer = "".join(Path(settings.BASE_DIR, "templates/inbox/composer", name).read_text()
                       for name in ("composer.html", "_interactive_kinds.html", "_catalog_kinds.html"))
    offered = re.findall(r'name="itype" value="([a-z_]+)"', composer)
    assert offered == ["button", "list", "cta_url", "location_request_message", "flow", "call_permission_request",
                       "voice_call", "product", "product_list"]
    assert set(offered) <= set(CAPABILITIES.interactive_types)


def test_templates_and_reactions_are_sendable_kinds():
    assert ("template" in validation.KINDS) is CAPABILITIES.templates
    assert ("reaction" in validation.KINDS) is CAPABILITIES.reactions
