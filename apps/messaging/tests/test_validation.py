"""Meta's limits: exactly at the limit passes, one over fails, naming the field."""

import pytest

from apps.messaging.validation import SendError, build_payload


def refused(kind, payload):
    with pytest.raises(SendError) as caught:
        build_payload(kind, payload)
    return caught.value


def buttons(n, title="T"):
    return [{"id": f"b{i}", "title": f"{title}{i}"} for i in range(n)]


def test_text_at_and_over_the_limit():
    assert build_payload("text", {"body": "a" * 4096})["body"] == "a" * 4096
    error = refused("text", {"body": "a" * 4097})
    assert (error.field, error.code) == ("text.body", "too_long")
    assert "4096" in error.message


def test_empty_text_is_refused():
    assert refused("text", {"body": "  "}).field == "text.body"


@pytest.mark.parametrize("kind", ["image", "video", "document"])
def test_caption_at_and_over_the_limit(kind):
    assert build_payload(kind, {"link": "https://x.test/a", "caption": "c" * 1024})["caption"] == "c" * 1024
    error = refused(kind, {"link": "https://x.test/a", "caption": "c" * 1025})
    assert (error.field, error.code) == (f"{kind}.caption", "too_long")


@pytest.mark.parametrize("kind", ["audio", "sticker"])
def test_no_caption_on_audio_and_stickers(kind):
    assert refused(kind, {"link": "https://x.test/a", "caption": "c"}).code == "not_allowed"


def test_media_needs_a_file_or_link():
    assert refused("image", {}).field == "image.media"


def test_three_buttons_pass_four_fail():
    payload = {"type": "button", "body": "Pick", "buttons": buttons(3)}
    assert len(build_payload("interactive", payload)["action"]["buttons"]) == 3
    error = refused("interactive", {**payload, "buttons": buttons(4)})
    assert (error.field, error.code) == ("interactive.buttons", "too_many")


def test_button_title_and_id_limits():
    ok = {"type": "button", "body": "Pick", "buttons": [{"id": "i" * 256, "title": "t" * 20}]}
    build_payload("interactive", ok)
    assert refused("interactive", {**ok, "buttons": [{"id": "i", "title": "t" * 21}]}).field == "interactive.buttons[0].title"
    assert refused("interactive", {**ok, "buttons": [{"id": "i" * 257, "title": "t"}]}).field == "interactive.buttons[0].id"


def test_button_ids_must_be_unique():
    error = refused("interactive", {"type": "button", "body": "b", "buttons": [{"id": "a", "title": "x"}, {"id": "a", "title": "y"}]})
    assert (error.field, error.code) == ("interactive.buttons[1].id", "duplicate")


def list_payload(sections):
    return {"type": "list", "body": "Choose", "button": "Options", "sections": sections}


def rows(n, prefix="r"):
    return [{"id": f"{prefix}{i}", "title": f"Row {i}"} for i in range(n)]


def test_ten_rows_pass_eleven_fail():
    build_payload("interactive", list_payload([{"title": "A", "rows": rows(5)}, {"title": "B", "rows": rows(5, "s")}]))
    error = refused("interactive", list_payload([{"title": "A", "rows": rows(6)}, {"title": "B", "rows": rows(5, "s")}]))
    assert (error.field, error.code) == ("interactive.sections", "too_many_rows")


def test_eleven_sections_fail():
    sections = [{"title": f"S{i}", "rows": [{"id": f"r{i}", "title": "x"}]} for i in range(11)]
    assert refused("interactive", list_payload(sections)).code == "too_many"


@pytest.mark.parametrize(("key", "limit"), [("title", 24), ("id", 200), ("description", 72)])
def test_row_limits(key, limit):
    row = {"id": "r", "title": "t", key: "x" * limit}
    build_payload("interactive", list_payload([{"rows": [row]}]))
    error = refused("interactive", list_payload([{"rows": [{**row, key: "x" * (limit + 1)}]}]))
    assert error.field == f"interactive.sections[0].rows[0].{key}"


def test_section_title_limit_and_required_when_several():
    build_payload("interactive", list_payload([{"title": "s" * 24, "rows": rows(1)}]))
    assert refused("interactive", list_payload([{"title": "s" * 25, "rows": rows(1)}])).field == "interactive.sections[0].title"
    error = refused("interactive", list_payload([{"rows": rows(1)}, {"title": "B", "rows": rows(1, "s")}]))
    assert (error.field, error.code) == ("interactive.sections[0].title", "required")


def test_list_button_text_limit():
    build_payload("interactive", {**list_payload([{"rows": rows(1)}]), "button": "b" * 20})
    assert refused("interactive", {**list_payload([{"rows": rows(1)}]), "button": "b" * 21}).field == "interactive.button"


@pytest.mark.parametrize(("key", "limit"), [("header", 60), ("footer", 60), ("body", 1024)])
def test_header_footer_body_limits(key, limit):
    base = {"type": "button", "body": "b", "buttons": buttons(1)}
    build_payload("interactive", {**base, key: "x" * limit})
    error = refused("interactive", {**base, key: "x" * (limit + 1)})
    assert error.code == "too_long"
    assert error.field.startswith(f"interactive.{key}")


def test_cta_url():
    built = build_payload("interactive", {"type": "cta_url", "body": "See", "display_text": "Open", "url": "https://x.test"})
    assert built["action"] == {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://x.test"}}
    assert refused("interactive", {"type": "cta_url", "body": "See", "display_text": "Open", "url": "ftp://x"}).field == "interactive.url"


@pytest.mark.parametrize(("lat", "lng", "field"), [(90.0001, 0, "location.latitude"), (-90.0001, 0, "location.latitude"),
                                                   (0, 180.0001, "location.longitude"), (0, -180.0001, "location.longitude")])
def test_location_out_of_range(lat, lng, field):
    assert refused("location", {"latitude": lat, "longitude": lng}).field == field


def test_location_at_the_edges():
    assert build_payload("location", {"latitude": 90, "longitude": -180}) == {"latitude": 90.0, "longitude": -180.0}


def test_unknown_type():
    assert refused("fax", {}).field == "type"


def card(**name):
    return {"name": {"formatted_name": "Ann Lee", **name}, "phones": [{"phone": "+15550001", "type": "CELL"}]}


@pytest.mark.parametrize("part", ["first_name", "last_name", "middle_name", "suffix", "prefix"])
def test_a_contact_card_needs_a_name_part_besides_formatted_name(part):
    assert build_payload("contacts", {"contacts": [card(**{part: "Lee"})]}) == [card(**{part: "Lee"})]


@pytest.mark.parametrize("name", [{}, {"first_name": "  "}, {"last_name": ""}])
def test_a_contact_card_with_formatted_name_alone_is_refused(name):
    error = refused("contacts", {"contacts": [card(first_name="Ann"), card(**name)]})
    assert (error.field, error.code) == ("contacts[1].name", "required")
    assert "first_name, last_name, middle_name, suffix, prefix" in error.message


def test_a_contact_cards_name_parts_are_text():
    error = refused("contacts", {"contacts": [card(first_name=["Ann"])]})
    assert (error.field, error.code) == ("contacts[0].name.first_name", "invalid")


def test_at_most_257_contacts():
    assert len(build_payload("contacts", {"contacts": [card(first_name="Ann")] * 257})) == 257
    error = refused("contacts", {"contacts": [card(first_name="Ann")] * 258})
    assert (error.field, error.code) == ("contacts", "too_many")
    assert "257" in error.message and "258" in error.message


def test_location_request():
    built = build_payload("interactive", {"type": "location_request_message", "body": "Where should we deliver?"})
    assert built == {"type": "location_request_message", "body": {"text": "Where should we deliver?"},
                     "action": {"name": "send_location"}}
    for extra in ({"header": "Delivery"}, {"footer": "Thanks"}):
        with pytest.raises(SendError) as refused:
            build_payload("interactive", {"type": "location_request_message", "body": "Where?", **extra})
        assert refused.value.code == "invalid"
