"""The calling interactive messages built as Meta's documentation shows them
(fixtures/send_call_permission_request.json, send_voice_call.json), and Meta's limits
on them refused with the field named. The same sends run against the simulator over
HTTP in apps/messaging/tests/test_send_calls.py."""

import json
from pathlib import Path

import pytest

from apps.messaging.validation import SendError, build_payload
from apps.providers.meta.capabilities import CAPABILITIES

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def refused(payload) -> SendError:
    with pytest.raises(SendError) as error:
        build_payload("interactive", payload)
    return error.value


def test_the_calling_kinds_are_capabilities():
    assert {"call_permission_request", "voice_call"} <= set(CAPABILITIES.interactive_types)


def test_a_call_permission_request_is_metas():
    example = fixture("send_call_permission_request")["interactive"]
    assert build_payload("interactive", {"type": "call_permission_request",
                                         "body": example["body"]["text"]}) == example


def test_a_voice_call_button_is_metas_with_or_without_its_parameters():
    example = fixture("send_voice_call")["interactive"]
    built = build_payload("interactive", {"type": "voice_call", "body": example["body"]["text"],
                                          **example["action"]["parameters"]})
    assert built == example
    bare = build_payload("interactive", {"type": "voice_call", "body": "Call us"})
    assert bare["action"] == {"name": "voice_call"}  # Meta's defaults: "Call Now", 7 days
    assert build_payload("interactive", {"type": "voice_call", "body": "Call us", "ttl_minutes": "60"})[
        "action"]["parameters"] == {"ttl_minutes": 60}


@pytest.mark.parametrize(("payload", "field", "code"), [
    ({"type": "call_permission_request"}, "interactive.body", "required"),
    ({"type": "call_permission_request", "body": "May we call?", "header": "Hi"}, "interactive.header",
     "not_allowed"),
    ({"type": "call_permission_request", "body": "May we call?", "footer": "Bye"}, "interactive.footer",
     "not_allowed"),
    ({"type": "voice_call"}, "interactive.body", "required"),
    ({"type": "voice_call", "body": "Call", "footer": "Bye"}, "interactive.footer", "not_allowed"),
    ({"type": "voice_call", "body": "Call", "display_text": "A button text far too long"},
     "interactive.display_text", "too_long"),
    ({"type": "voice_call", "body": "Call", "ttl_minutes": 0}, "interactive.ttl_minutes", "invalid"),
    ({"type": "voice_call", "body": "Call", "ttl_minutes": 43201}, "interactive.ttl_minutes", "invalid"),
    ({"type": "voice_call", "body": "Call", "ttl_minutes": "soon"}, "interactive.ttl_minutes", "invalid"),
    ({"type": "voice_call", "body": "Call", "ttl_minutes": True}, "interactive.ttl_minutes", "invalid"),
    ({"type": "voice_call", "body": "Call", "payload": "x" * 513}, "interactive.payload", "too_long"),
    ({"type": "voice_call", "body": "Call", "payload": {"a": 1}}, "interactive.payload", "invalid"),
])
def test_what_meta_would_refuse_is_refused_here(payload, field, code):
    error = refused(payload)
    assert (error.field, error.code) == (field, code)
    assert error.message
