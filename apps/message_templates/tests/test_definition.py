"""Meta's rules for a new template, checked before submission."""

import pytest

from apps.message_templates.definition import TemplateDefinitionError, template_definition_check

BODY = {"type": "BODY", "text": "Hello {{1}}, order {{2}} is on its way.", "example": {"body_text": [["Ann", "42"]]}}


def check(components, **kwargs):
    args = {"name": "order_update", "language": "en_US", "category": "UTILITY", "parameter_format": "POSITIONAL",
            "components": components, **kwargs}
    return template_definition_check(**args)


def fields_of(components, **kwargs):
    with pytest.raises(TemplateDefinitionError) as caught:
        check(components, **kwargs)
    return [field for field, _message in caught.value.errors]


def test_a_full_valid_template_becomes_metas_payload():
    components = [
        {"type": "header", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["#42"]}},
        BODY,
        {"type": "FOOTER", "text": "Shop Ltd"},
        {"type": "BUTTONS", "buttons": [
            {"type": "QUICK_REPLY", "text": "Thanks"}, {"type": "QUICK_REPLY", "text": "Help"},
            {"type": "URL", "text": "Track", "url": "https://s.test/t/{{1}}", "example": ["https://s.test/t/A"]},
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+55 11 99999-0000"},
        ]},
    ]
    payload = check(components)
    assert payload["name"] == "order_update" and payload["parameter_format"] == "POSITIONAL"
    assert [c["type"] for c in payload["components"]] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]


def test_named_parameters_need_named_examples():
    body = {"type": "BODY", "text": "Hi {{first_name}}, welcome.",
            "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ann"}]}}
    assert check([body], parameter_format="NAMED")["parameter_format"] == "NAMED"
    assert fields_of([{**body, "example": {}}], parameter_format="NAMED") == ["body.text.example"]
    assert fields_of([{"type": "BODY", "text": "Hi {{1}}, welcome.", "example": {"body_text": [["A"]]}}],
                     parameter_format="NAMED") == ["body.text"]


def test_authentication_template():
    components = [{"type": "BODY", "add_security_recommendation": True},
                  {"type": "FOOTER", "code_expiration_minutes": 10},
                  {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]}]
    payload = check(components, category="AUTHENTICATION")
    assert "parameter_format" not in payload
    assert fields_of(components[:2], category="AUTHENTICATION") == ["buttons"]
    assert fields_of([components[0], {"type": "FOOTER", "code_expiration_minutes": 91}, components[2]],
                     category="AUTHENTICATION") == ["footer.code_expiration_minutes"]
    assert fields_of([BODY, {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "ONE_TAP"}]}],
                     category="AUTHENTICATION") == ["body.text", "buttons[0].supported_apps"]


@pytest.mark.parametrize(("components", "kwargs", "fields"), [
    ([BODY], {"name": "Order Update"}, ["name"]),
    ([BODY], {"language": "english"}, ["language"]),
    ([BODY], {"category": "PROMO"}, ["category"]),
    ([], {}, ["body.text"]),
    ([{"type": "BODY", "text": "x" * 1025}], {}, ["body.text"]),
    ([{"type": "BODY", "text": "Hi {{1}} and {{3}}.", "example": {"body_text": [["a", "b"]]}}], {}, ["body.text"]),
    ([{"type": "BODY", "text": "Hi {{1}} there.", "example": {"body_text": [[]]}}], {}, ["body.text.example"]),
    ([{"type": "BODY", "text": "{{1}} is here.", "example": {"body_text": [["a"]]}}], {}, ["body.text"]),
    ([{"type": "BODY", "text": "Here is {{1}}", "example": {"body_text": [["a"]]}}], {}, ["body.text"]),
    ([{"type": "HEADER", "format": "TEXT", "text": "A {{1}} {{2}}",
       "example": {"header_text": ["a", "b"]}}, BODY], {}, ["header.text"]),
    ([{"type": "HEADER", "format": "TEXT", "text": "Sale *now*"}, BODY], {}, ["header.text"]),
    ([{"type": "HEADER", "format": "IMAGE"}, BODY], {}, ["header.example"]),
    ([{"type": "HEADER", "format": "GIF"}, BODY], {}, ["header.format"]),
    ([BODY, {"type": "FOOTER", "text": "Hi {{1}}"}], {}, ["footer.text"]),
    ([BODY, {"type": "BUTTONS", "buttons": []}], {}, ["buttons"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "x" * 26}]}], {}, ["buttons[0].text"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Go", "url": "https://a.test/{{1}}/x",
                                               "example": ["https://a.test/1/x"]}]}], {}, ["buttons[0].url"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Go", "url": "https://a.test/{{1}}"}]}], {},
     ["buttons[0].example"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "PHONE_NUMBER", "text": "Call", "phone_number": "12"}]}], {},
     ["buttons[0].phone_number"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SIXTEEN-CHARS-XX"}]}], {},
     ["buttons[0].example"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]}], {}, ["buttons[0]"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "FLOWX", "text": "a"}]}], {}, ["buttons[0].type"]),
    ([BODY, {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "a"}, {"type": "URL", "text": "b", "url": "https://a.test"},
        {"type": "QUICK_REPLY", "text": "c"}]}], {}, ["buttons"]),
    ([BODY, {"type": "BUTTONS", "buttons": [
        {"type": "URL", "text": f"u{i}", "url": "https://a.test"} for i in range(3)]}], {}, ["buttons"]),
    ([BODY, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": f"q{i}"} for i in range(11)]}], {},
     ["buttons"]),
    ([BODY, {"type": "CAROUSEL"}], {}, ["components[1]"]),
])
def test_rule_violations_name_the_field(components, kwargs, fields):
    assert fields_of(components, **kwargs) == fields


def test_every_problem_is_reported_at_once():
    fields = fields_of([{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": ""}], name="Bad Name")
    assert fields == ["name", "header.example", "body.text"]
