"""The parser cleans every string of a delivery once, whatever the item (audit,
issue 16, point 12), and knows the shape of Meta's media ids (point 2)."""

import json

import pytest

from apps.providers import events as ev
from apps.providers.meta.parser import clean_strings, media_id_valid, parse_webhook
from apps.whatsapp.tests.utils import envelope, message, messages_change, status

NUL, LONE_HIGH, LONE_LOW = "\x00", "\ud83d", "\ude00"


def unstorable(value) -> bool:
    if isinstance(value, str):
        return NUL in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(unstorable(v) for v in value)
    return False


def test_every_kind_of_item_comes_out_clean():
    payload = envelope(
        messages_change(
            phone_number_id=f"106{NUL}540",
            messages=[message("document", wamid=f"wamid.A{NUL}", from_="5511999990001", id="1",
                              filename=f"a{NUL}.pdf", caption=f"x{LONE_HIGH}y")],
            statuses=[status(f"wamid.S{NUL}", "failed", errors=[{"code": 131026, "title": f"T{NUL}",
                                                                   "message": f"M{LONE_LOW}"}])],
            contacts=[{"wa_id": "5511999990001", "profile": {"name": f"An{NUL}a"}}],
            user_preferences=[{"wa_id": "5511999990001", "value": f"st{NUL}op", "category": "marketing_messages"}],
        ),
        {"field": "message_template_status_update", "value": {"event": f"APPROVED{NUL}", "reason": f"r{LONE_HIGH}"}},
        {"field": "account_update", "value": {"event": f"X{NUL}", f"k{NUL}ey": [f"v{LONE_LOW}"]}},
        waba_id=f"1022{NUL}",
    )
    items = parse_webhook(payload)
    assert [type(item) for item in items] == [ev.InboundMessage, ev.StatusUpdate, ev.UserPreference,
                                              ev.TemplateUpdate, ev.AccountNotice]
    for item in items:
        assert not unstorable(vars(item)), item
    inbound, state, preference, template, notice = items
    assert (inbound.wamid, inbound.profile_name, inbound.phone_number_id, inbound.waba_id) == (
        "wamid.A", "Ana", "106540", "1022")
    assert inbound.content == {"id": "1", "filename": "a.pdf", "caption": "xy"}
    assert (state.wamid, state.errors) == ("wamid.S", [{"code": 131026, "title": "T", "message": "M"}])
    assert preference.value == "stop"
    assert template.value == {"event": "APPROVED", "reason": "r"}
    assert notice.value == {"event": "X", "key": ["v"]}


def test_a_valid_surrogate_pair_is_kept():
    payload = envelope(messages_change(phone_number_id="1", messages=[
        message("text", wamid="wamid.E", from_="5511999990001", body="\U0001F600 ok")]))
    assert parse_webhook(payload)[0].content == {"body": "\U0001F600 ok"}


def test_a_clean_delivery_is_not_copied():
    payload = {"a": ["b", {"c": "\U0001F600 \\u0000 as text"}], "n": 1}
    assert clean_strings(payload) is payload


@pytest.mark.parametrize("value, valid", [
    ("1234567890123456", True), (1234567890123456, True), ("1", True), ("1" * 32, True),
    ("1" * 33, False), ("", False), (None, False), (True, False), ("12a", False), ("١٢٣", False),
    ("123\n", False), ("../1", False), ("https://x/1", False), (1.5, False), ({"id": 1}, False), (-1, False),
])
def test_media_id_valid(value, valid):
    assert media_id_valid(value) is valid


@pytest.mark.parametrize("text, stored", [
    ("ol\\u00e1\\u0000 x", "olá x"),  # a NUL escape: cleaned
    ("lone \\udfff here", "lone  here"),  # a lone surrogate escape: cleaned
    ("\\ud83d\\ude00 ok", "\U0001F600 ok"),  # a valid pair: kept
    ("olá, plain", "olá, plain"),  # nothing to clean: the JSON is not walked
])
def test_the_body_tells_whether_the_strings_need_cleaning(text, stored):
    body = ('{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", '
            '"value": {"metadata": {"phone_number_id": "2"}, "messages": [{"from": "5511", "id": "wamid.A", '
            '"timestamp": "1718200000", "type": "text", "text": {"body": "' + text + '"}}]}}]}]}').encode()
    (message,) = parse_webhook(json.loads(body), body=body)
    assert message.content["body"] == stored
