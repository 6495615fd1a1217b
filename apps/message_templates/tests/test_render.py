"""template_render: every component kind and parameter kind, and the errors naming them."""

import pytest

from apps.message_templates.models import MessageTemplate
from apps.message_templates.render import (
    parameters_from_components,
    slots,
    template_prefill,
    template_render,
    template_unsendable_reason,
)
from apps.messaging.validation import SendError


def make(components, *, category="UTILITY", parameter_format="POSITIONAL", status="APPROVED", name="t"):
    return MessageTemplate(name=name, language="en_US", category=category, parameter_format=parameter_format,
                           status=status, components=components)


FULL = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["#42"]}},
    {"type": "BODY", "text": "Hi {{1}}, you paid {{2}} on {{3}}.", "example": {"body_text": [["Ann", "$5", "May 1"]]}},
    {"type": "FOOTER", "text": "Reply STOP to opt out"},
    {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Thanks"},
        {"type": "URL", "text": "Track", "url": "https://shop.test/track/{{1}}", "example": ["https://shop.test/track/A1"]},
        {"type": "URL", "text": "Shop", "url": "https://shop.test/"},
        {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+5511999990000"},
    ]},
]


def test_every_part_rendered_and_meta_components_built():
    template = make(FULL)
    rendered = template_render(template=template, parameters={
        "header": ["#42"],
        "body": ["Ann", {"type": "currency", "currency": {"fallback_value": "$10.99", "code": "USD",
                                                           "amount_1000": 10990}},
                 {"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}}],
        "buttons": {"0": "thanks-42", "1": "A1"},
    })
    assert rendered.header == "Order #42"
    assert rendered.body == "Hi Ann, you paid $10.99 on May 1, 2026."
    assert rendered.footer == "Reply STOP to opt out"
    assert rendered.buttons == [
        {"type": "quick_reply", "text": "Thanks", "payload": "thanks-42"},
        {"type": "url", "text": "Track", "url": "https://shop.test/track/A1"},
        {"type": "url", "text": "Shop", "url": "https://shop.test/"},
        {"type": "phone_number", "text": "Call us", "phone_number": "+5511999990000"},
    ]
    assert rendered.text == ("Order #42\n\nHi Ann, you paid $10.99 on May 1, 2026.\n\nReply STOP to opt out\n\n"
                             "[Thanks] | [Track] | [Shop] | [Call us]")
    assert rendered.components == [
        {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Ann"},
            {"type": "currency", "currency": {"fallback_value": "$10.99", "code": "USD", "amount_1000": 10990}},
            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}},
        ]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload",
                                                                                     "payload": "thanks-42"}]},
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A1"}]},
    ]
    assert rendered.meta_object() == {"name": "t", "language": {"code": "en_US"}, "components": rendered.components}


def test_named_parameters_carry_their_names():
    template = make([{"type": "HEADER", "format": "TEXT", "text": "Hello {{first_name}}"},
                     {"type": "BODY", "text": "Your order {{order_id}} ships {{when}}."}], parameter_format="NAMED")
    rendered = template_render(template=template, parameters={
        "header": {"first_name": "Ann"}, "body": {"when": "today", "order_id": 42}})
    assert rendered.text == "Hello Ann\n\nYour order 42 ships today."
    assert rendered.components == [
        {"type": "header", "parameters": [{"type": "text", "text": "Ann", "parameter_name": "first_name"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "42", "parameter_name": "order_id"},
                                        {"type": "text", "text": "today", "parameter_name": "when"}]},
    ]


def test_positional_parameters_follow_their_numbers_not_their_order_of_appearance():
    template = make([{"type": "BODY", "text": "On {{2}} we ship to {{1}}."}])
    rendered = template_render(template=template, parameters={"body": {"1": "Ann", "2": "Monday"}})
    assert rendered.body == "On Monday we ship to Ann."
    assert [p["text"] for p in rendered.components[0]["parameters"]] == ["Ann", "Monday"]


@pytest.mark.parametrize(("fmt", "given", "expected_param", "shown"), [
    ("IMAGE", {"link": "https://x.test/a.jpg"}, {"type": "image", "image": {"link": "https://x.test/a.jpg"}},
     {"type": "image", "link": "https://x.test/a.jpg"}),
    ("VIDEO", {"id": "1234567890"}, {"type": "video", "video": {"id": "1234567890"}},
     {"type": "video", "id": "1234567890"}),
    ("DOCUMENT", {"type": "document", "document": {"link": "https://x.test/a.pdf", "filename": "Invoice.pdf"}},
     {"type": "document", "document": {"link": "https://x.test/a.pdf", "filename": "Invoice.pdf"}},
     {"type": "document", "link": "https://x.test/a.pdf", "filename": "Invoice.pdf"}),
    ("LOCATION", {"latitude": -23.5, "longitude": -46.6, "name": "Store"},
     {"type": "location", "location": {"latitude": -23.5, "longitude": -46.6, "name": "Store"}},
     {"type": "location", "latitude": -23.5, "longitude": -46.6, "name": "Store"}),
])
def test_media_and_location_headers(fmt, given, expected_param, shown):
    template = make([{"type": "HEADER", "format": fmt}, {"type": "BODY", "text": "Your receipt."}])
    rendered = template_render(template=template, parameters={"header": given})
    assert rendered.components == [{"type": "header", "parameters": [expected_param]}]
    assert rendered.header_media == shown
    assert rendered.text == f"[{fmt.lower()}]\n\nYour receipt."


def test_copy_code_button():
    template = make([{"type": "BODY", "text": "Use code {{1}} for 10% off."},
                     {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]}],
                    category="MARKETING")
    rendered = template_render(template=template, parameters={"body": ["SAVE15"], "buttons": ["SAVE15"]})
    assert rendered.components[-1] == {"type": "button", "sub_type": "copy_code", "index": "0",
                                       "parameters": [{"type": "coupon_code", "coupon_code": "SAVE15"}]}
    assert rendered.buttons == [{"type": "copy_code", "text": "Copy code", "code": "SAVE15"}]


@pytest.mark.parametrize("button", [
    {"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"},
    # How Meta lists an authentication template's button after creation.
    {"type": "URL", "text": "Copy code", "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"},
])
def test_one_time_password_fills_body_and_button(button):
    template = make([{"type": "BODY", "add_security_recommendation": True},
                     {"type": "FOOTER", "code_expiration_minutes": 10},
                     {"type": "BUTTONS", "buttons": [button]}], category="AUTHENTICATION")
    rendered = template_render(template=template, parameters={"buttons": {"0": "493021"}})
    assert rendered.body == "493021 is your verification code."
    assert rendered.footer == "This code expires in 10 minutes."
    assert rendered.components == [
        {"type": "body", "parameters": [{"type": "text", "text": "493021"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "493021"}]},
    ]


def test_quick_reply_payload_is_optional_and_meta_shaped_buttons_are_taken():
    template = make(FULL)
    rendered = template_render(template=template, parameters={
        "header": "#1", "body": ["A", "B", "C"],
        "buttons": [{"index": 1, "sub_type": "url", "parameters": [{"type": "text", "text": "Z9"}]}],
    })
    assert [c.get("sub_type") for c in rendered.components if c["type"] == "button"] == ["url"]
    assert rendered.buttons[1]["url"] == "https://shop.test/track/Z9"


@pytest.mark.parametrize(("parameters", "field", "code"), [
    ({"header": ["#1"], "body": ["A", "B"], "buttons": {"1": "x"}}, "body", "count"),
    ({"header": ["#1"], "body": ["A", "B", "C", "D"], "buttons": {"1": "x"}}, "body", "count"),
    ({"header": [], "body": ["A", "B", "C"], "buttons": {"1": "x"}}, "header", "count"),
    ({"header": ["#1"], "body": ["A", "", "C"], "buttons": {"1": "x"}}, "body.2", "required"),
    ({"header": ["#1"], "body": ["A", "line\nbreak", "C"], "buttons": {"1": "x"}}, "body.2", "invalid"),
    ({"header": ["#1"], "body": ["A", None, "C"], "buttons": {"1": "x"}}, "body.2", "invalid"),
    ({"header": ["#1"], "body": ["A", {"type": "currency", "currency": {"fallback_value": "$1", "code": "usd",
                                                                          "amount_1000": 1000}}, "C"],
      "buttons": {"1": "x"}}, "body.2.code", "invalid"),
    ({"header": ["#1"], "body": ["A", {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD",
                                                                          "amount_1000": 1.5}}, "C"],
      "buttons": {"1": "x"}}, "body.2.amount_1000", "invalid"),
    ({"header": ["#1"], "body": ["A", {"type": "date_time", "date_time": {}}, "C"], "buttons": {"1": "x"}},
     "body.2.fallback_value", "required"),
    ({"header": ["#1"], "body": ["A", {"type": "image"}, "C"], "buttons": {"1": "x"}}, "body.2", "invalid"),
    ({"header": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1}}],
      "body": ["A", "B", "C"], "buttons": {"1": "x"}}, "header.1", "invalid"),
    ({"header": ["#1"], "body": ["A", "B", "C"]}, "buttons[1]", "required"),
    ({"header": ["#1"], "body": ["A", "B", "C"], "buttons": {"1": "has space"}}, "buttons[1]", "invalid"),
    ({"header": ["#1"], "body": ["A", "B", "C"], "buttons": {"1": "x", "2": "y"}}, "buttons[2]", "not_allowed"),
    ({"header": ["#1"], "body": ["A", "B", "C"], "buttons": {"1": "x", "3": "y"}}, "buttons[3]", "not_allowed"),
    ({"header": ["#1"], "body": ["A", "B", "C"], "buttons": {"1": "x", "7": "y"}}, "buttons[7]", "not_found"),
    ({"header": ["#1"], "body": ["A", "B", "C"], "buttons": {"1": "x"}, "footer": "no"}, "footer", "invalid"),
    ({"header": ["a header far too long for Meta's sixty character limit, really"], "body": ["A", "B", "C"],
      "buttons": {"1": "x"}}, "header", "too_long"),
])
def test_parameter_errors_name_component_and_parameter(parameters, field, code):
    with pytest.raises(SendError) as caught:
        template_render(template=make(FULL), parameters=parameters)
    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize(("components", "parameters", "field", "code"), [
    ([{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "x"}], {}, "header", "required"),
    ([{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "x"}], {"header": {"link": "ftp://a"}},
     "header.link", "invalid"),
    ([{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "x"}],
     {"header": {"link": "https://a.test/x.jpg", "filename": "x.jpg"}}, "header.filename", "not_allowed"),
    ([{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "x"}], {"header": {"latitude": 95,
                                                                                           "longitude": 1}},
     "header.latitude", "out_of_range"),
    ([{"type": "BODY", "text": "x"}], {"header": ["no"]}, "header", "not_allowed"),
    ([{"type": "BODY", "text": "x"}, {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "A"}]}],
     {"buttons": ["SIXTEEN-CHARS-XX"]}, "buttons[0]", "too_long"),
    ([{"type": "BODY", "text": "Hi {{name}}"}], {"body": {"nom": "Ann"}}, "body", "names"),
    ([{"type": "BODY", "text": "x"}], [], "parameters", "invalid"),
])
def test_component_errors(components, parameters, field, code):
    template = make(components, parameter_format="NAMED" if "{{name}}" in str(components) else "POSITIONAL")
    with pytest.raises(SendError) as caught:
        template_render(template=template, parameters=parameters)
    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize(("status", "deleted", "words"), [
    ("APPROVED", False, ""),
    ("PAUSED", False, "paused"),
    ("DISABLED", False, "disabled"),
    ("REJECTED", False, "rejected by Meta (INVALID_FORMAT)"),
    ("PENDING", False, "in review"),
    ("APPROVED", True, "deleted at Meta"),
])
def test_unsendable_reasons(status, deleted, words):
    from django.utils import timezone

    template = make(FULL, status=status)
    template.rejection_reason = "INVALID_FORMAT"
    template.deleted_at = timezone.now() if deleted else None
    reason = template_unsendable_reason(template)
    assert (words in reason) if words else reason == ""
    assert bool(reason) == bool(words)


def test_slots_and_prefill_from_contact_and_event():
    from apps.conversations.models import Contact

    template = make(FULL)
    template.parameter_mapping = {"body.1": "contact.name", "header.1": "event.order.number"}
    assert [s["slot"] for s in slots(template)] == ["header.1", "body.1", "body.2", "body.3", "button.0", "button.1"]
    contact = Contact(wa_id="5511999990001", name="", profile_name="Ann P", attributes={"city": "Recife"})
    parameters, missing = template_prefill(
        template=template, contact=contact, fields={"order": {"number": "#7"}},
        mapping={"body.2": "contact.attributes.city", "body.3": "event.missing", "button.1": "text:FIXED"},
    )
    assert parameters == {"body": {"1": "Ann P", "2": "Recife"}, "header": {"1": "#7"}, "buttons": {"1": "FIXED"}}
    assert missing == [("body.3", "event.missing")]


def test_parameters_read_back_from_meta_components():
    template = make(FULL)
    given = {"header": ["#42"], "body": ["Ann", {"type": "currency", "currency": {
        "fallback_value": "$1", "code": "USD", "amount_1000": 1000}}, "May"], "buttons": {"0": "p", "1": "A1"}}
    first = template_render(template=template, parameters=given)
    again = template_render(template=template, parameters=parameters_from_components(first.components))
    assert again.as_content() == first.as_content()
