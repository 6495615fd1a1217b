"""The parser against recorded payloads (fixtures/*.json): a pure function."""

from datetime import UTC, datetime

import pytest

from apps.providers import events as ev
from apps.providers.meta.parser import ParseError, parse_webhook
from apps.whatsapp.tests.utils import FIXTURES, load_fixture

PID = "106540352242922"
WABA = "102290129340398"


def one(name):
    items = parse_webhook(load_fixture(name))
    assert len(items) == 1, items
    return items[0]


def test_every_fixture_parses_without_malformed_items():
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) >= 30
    for name in names:
        items = parse_webhook(load_fixture(name))
        assert items, name
        assert not [i for i in items if isinstance(i, ev.Malformed)], name


def test_text_message():
    item = one("text.json")
    assert isinstance(item, ev.InboundMessage)
    assert item.phone_number_id == PID
    assert item.waba_id == WABA
    assert item.display_phone_number == "15550783881"
    assert item.from_wa_id == "5511987654321"
    assert item.profile_name == "Maria Souza"
    assert item.type == "text"
    assert item.content == {"body": "Olá! Quero saber do meu pedido."}
    assert item.timestamp == datetime(2024, 6, 12, 13, 46, 40, tzinfo=UTC)
    assert item.path == "entry[0].changes[0].messages[0]"


@pytest.mark.parametrize(
    "name, kind, key, value",
    [
        ("image.json", "image", "id", "1479537139650973"),
        ("video.json", "video", "mime_type", "video/mp4"),
        ("audio_voice.json", "audio", "voice", True),
        ("audio.json", "audio", "voice", False),
        ("document.json", "document", "filename", "nota-fiscal-1234.pdf"),
        ("sticker.json", "sticker", "animated", True),
        ("location.json", "location", "name", "MASP"),
        ("interactive_button_reply.json", "interactive", "type", "button_reply"),
        ("interactive_list_reply.json", "interactive", "type", "list_reply"),
        ("interactive_nfm_reply.json", "interactive", "type", "nfm_reply"),
        ("button.json", "button", "payload", "STOP_PROMOTIONS"),
        ("reaction.json", "reaction", "emoji", "\U0001F44D"),
        ("order.json", "order", "catalog_id", "9876543210"),
        ("system.json", "system", "type", "user_changed_number"),
        ("edit.json", "edit", "original_message_id", "wamid.ORIGINAL_0001"),
        ("revoke.json", "revoke", "original_message_id", "wamid.ORIGINAL_0001"),
        ("unknown_type.json", "hologram", "shape", "cube"),
    ],
)
def test_message_types_keep_their_object(name, kind, key, value):
    item = one(name)
    assert isinstance(item, ev.InboundMessage)
    assert item.type == kind
    assert item.content[key] == value


def test_contacts_message_keeps_every_card():
    item = one("contacts.json")
    assert item.type == "contacts"
    assert item.content["contacts"][0]["name"]["formatted_name"] == "João Pereira"


def test_reaction_removed_has_no_emoji():
    item = one("reaction_removed.json")
    assert item.content == {"message_id": "wamid.OUTBOUND_TEXT_0001"}


def test_request_welcome_has_no_content():
    item = one("request_welcome.json")
    assert (item.type, item.content) == ("request_welcome", {})


def test_unsupported_keeps_errors():
    item = one("unsupported.json")
    assert item.type == "unsupported"
    assert item.errors[0]["code"] == 131051


def test_errors_on_a_message_are_kept():
    item = one("message_with_errors.json")
    assert item.errors[0]["code"] == 131052


def test_context_reply_forwarded_referral():
    reply = one("reply_context.json")
    assert reply.reply_to_wamid == "wamid.OUTBOUND_TEXT_0001"
    assert (reply.forwarded, reply.frequently_forwarded) == (False, False)
    forwarded, frequently = parse_webhook(load_fixture("forwarded.json"))
    assert (forwarded.forwarded, forwarded.frequently_forwarded) == (True, False)
    assert (frequently.forwarded, frequently.frequently_forwarded) == (False, True)
    ad = one("referral.json")
    assert ad.referral["source_type"] == "ad"
    assert ad.referral["ctwa_clid"].startswith("ARAk")


def test_several_messages_in_one_change_keep_their_order():
    items = parse_webhook(load_fixture("several_messages.json"))
    assert [i.type for i in items] == ["text", "text", "image"]
    assert [i.path for i in items] == [f"entry[0].changes[0].messages[{n}]" for n in range(3)]


def test_batched_entries_and_changes():
    items = parse_webhook(load_fixture("batched_entries.json"))
    assert [type(i).__name__ for i in items] == ["InboundMessage", "InboundMessage", "StatusUpdate", "InboundMessage"]
    assert [i.phone_number_id for i in items] == [PID, PID, PID, "106540352242923"]
    assert items[3].waba_id == "102290129340399"
    assert items[3].path == "entry[1].changes[0].messages[0]"


def test_statuses_with_pricing_and_conversation():
    sent, delivered, read = parse_webhook(load_fixture("statuses.json"))
    assert [s.status for s in (sent, delivered, read)] == ["sent", "delivered", "read"]
    assert sent.wamid == "wamid.OUTBOUND_TEXT_0001"
    assert sent.pricing == {"billable": True, "pricing_model": "PMP", "category": "service"}
    assert sent.conversation["origin"] == {"type": "service"}
    assert read.pricing is None


def test_failed_status_keeps_errors():
    item = one("status_failed.json")
    assert isinstance(item, ev.StatusUpdate)
    assert item.status == "failed"
    assert item.errors[0]["code"] == 131047
    assert "24 hours" in item.errors[0]["error_data"]["details"]


def test_a_status_echoes_the_sends_biz_opaque_callback_data():
    delivered, failed = parse_webhook(load_fixture("status_with_callback_data.json"))
    assert [(s.status, s.biz_opaque_callback_data) for s in (delivered, failed)] == [
        ("delivered", "4182:fGm0K2xV3uS1cH8aQe9yR7tWz5nB6dJpLkM4oXv0iTg"),
        ("failed", "4182:fGm0K2xV3uS1cH8aQe9yR7tWz5nB6dJpLkM4oXv0iTg"),
    ]
    assert failed.errors[0]["code"] == 131026
    # A send made without it: its statuses carry none.
    assert {s.biz_opaque_callback_data for s in parse_webhook(load_fixture("statuses.json"))} == {""}


def test_user_preferences():
    item = one("user_preferences.json")
    assert isinstance(item, ev.UserPreference)
    assert (item.wa_id, item.category, item.value) == ("5511987654321", "marketing_messages", "stop")
    assert item.timestamp == datetime.fromtimestamp(1718200400, tz=UTC)


@pytest.mark.parametrize(
    "name, field",
    [
        ("template_status_update.json", "message_template_status_update"),
        ("template_quality_update.json", "message_template_quality_update"),
        ("template_category_update.json", "template_category_update"),
    ],
)
def test_template_updates(name, field):
    item = one(name)
    assert isinstance(item, ev.TemplateUpdate)
    assert item.field == field
    assert item.waba_id == WABA
    assert item.value["message_template_id"] == 12345678901


def test_account_notices():
    quality = one("phone_number_quality_update.json")
    assert isinstance(quality, ev.AccountNotice)
    assert (quality.field, quality.event, quality.display_phone_number) == (
        "phone_number_quality_update", "DOWNGRADE", "15550783881"
    )
    account = one("account_update.json")
    assert (account.field, account.event) == ("account_update", "ACCOUNT_VIOLATION")


def test_wrong_object_or_shape_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_webhook({"object": "page", "entry": []})
    with pytest.raises(ParseError):
        parse_webhook(["not", "an", "object"])


def test_malformed_items_do_not_stop_the_others():
    payload = load_fixture("several_messages.json")
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    messages.insert(1, {"type": "text"})  # no id, from, timestamp
    messages.insert(0, "garbage")
    payload["entry"].append("not an entry")
    items = parse_webhook(payload)
    assert [type(i).__name__ for i in items] == [
        "Malformed", "InboundMessage", "Malformed", "InboundMessage", "InboundMessage", "Malformed"
    ]


def test_value_errors():
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1", "phone_number_id": PID},
            "errors": [{"code": 131000, "title": "Something went wrong"}],
        }}]}],
    }
    (item,) = parse_webhook(payload)
    assert isinstance(item, ev.ValueErrors)
    assert item.errors == [{"code": 131000, "title": "Something went wrong"}]


def test_a_customer_with_a_username_comes_with_the_user_id_alone():
    message = one("text_username_only.json")
    assert isinstance(message, ev.InboundMessage)
    assert (message.from_wa_id, message.from_user_id, message.sender) == (
        "", "US.13491208655302741918", "US.13491208655302741918")
    assert (message.profile_name, message.username) == ("Jane Doe", "@janedoe")


def test_the_phone_and_the_user_ids_together():
    message = one("text_with_user_id.json")
    assert (message.from_wa_id, message.from_user_id, message.parent_user_id, message.sender) == (
        "5511987654321", "BR.1502576394655843", "BR.ENT.11815799212886844830", "5511987654321")
    assert message.profile_name == "Maria Souza"


def test_a_message_with_neither_from_nor_user_id_is_malformed():
    payload = load_fixture("text_username_only.json")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from_user_id"]
    (item,) = parse_webhook(payload)
    assert isinstance(item, ev.Malformed) and "from_user_id" in item.reason
