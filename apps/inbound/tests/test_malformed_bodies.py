"""Signed bodies we cannot use: never a 500, never retried by Meta for days, never a
crash of the worker. They are kept, marked rejected with the reason, and answered
200 (Meta retries anything else); processing and replay mark them the same way."""

import json

import pytest

from apps.conversations.models import Contact
from apps.messaging.models import Message
from apps.inbound import services
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.providers.meta.signature import secret_fingerprint
from apps.whatsapp.tests.utils import envelope, message, messages_change, post_webhook

pytestmark = pytest.mark.django_db

OBJECT = "whatsapp_business_account"


@pytest.fixture(autouse=True)
def _no_media_download(mirrored):
    pass


def _deep(kind: str, levels: int) -> bytes:
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    inner = opening * levels + "1" + closing * levels
    return ('{"object": "%s", "entry": ' % OBJECT + inner + "}").encode()


def _kept_as_malformed(response, body: bytes, reason: str) -> WebhookEvent:
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature, event.attempts, event.error) == (
        WebhookEvent.Status.REJECTED, WebhookEvent.Signature.VALID, 0, "")
    assert event.reason == reason
    assert bytes(event.body) == body
    assert event.signed_by == secret_fingerprint("test-app-secret")
    assert (Message.objects.count(), Contact.objects.count(), AccountEvent.objects.count()) == (0, 0, 0)
    return event


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("levels", [100_000, 5_000])
def test_a_signed_body_too_deep_to_decode_is_kept_and_acknowledged(deliver, number, kind, levels):
    body = _deep(kind, levels)
    response = deliver(body)
    _kept_as_malformed(response, body, "malformed body: JSON nested too deeply")


@pytest.mark.parametrize("kind", ["array", "object"])
def test_a_signed_body_nested_past_the_limit_is_rejected_by_processing(deliver, number, kind):
    body = _deep(kind, 200)
    response = deliver(body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts, event.error) == (WebhookEvent.Status.REJECTED, 1, "")
    assert event.reason == "malformed body: JSON nested deeper than 64 levels"
    assert (Message.objects.count(), AccountEvent.objects.count()) == (0, 0)


@pytest.mark.parametrize("body, reason", [
    (b"this is not json", "malformed body: body is not JSON"),
    (b'{"object": "whatsapp_business_account", "entry": [\xff\xfe]}', "malformed body: body is not JSON"),
    (b"", "malformed body: body is not JSON"),
    (b'{"object": "page", "entry": []}', f"malformed body: object is not {OBJECT}"),
    (b"[1, 2]", f"malformed body: object is not {OBJECT}"),
    (b'"whatsapp_business_account"', f"malformed body: object is not {OBJECT}"),
    (b'{"entry": []}', f"malformed body: object is not {OBJECT}"),
])
def test_a_signed_body_we_cannot_use_is_kept_and_acknowledged(deliver, number, body, reason):
    response = deliver(body)
    _kept_as_malformed(response, body, reason)


WRONG_TYPES = [
    {"object": OBJECT, "entry": "x"},
    {"object": OBJECT, "entry": {"id": "1"}},
    {"object": OBJECT, "entry": [1, None, "x", []]},
    {"object": OBJECT, "entry": [{"id": ["x"], "changes": {"field": "messages"}}]},
    {"object": OBJECT, "entry": [{"id": {"x": 1}, "time": {"t": 1}, "changes": [1, "x", None, [], {"value": []}]}]},
    {"object": OBJECT, "entry": [{"changes": [{"field": "messages", "value": "x"}]}]},
    {"object": OBJECT, "entry": [{"changes": [{"field": ["messages"], "value": {}}]}]},
    envelope(messages_change(phone_number_id="106540352242922", messages={"a": 1}, statuses="x",
                             contacts=[1, {"wa_id": ["x"]}], user_preferences={"x": 1})),
    envelope(messages_change(phone_number_id="106540352242922", messages=[1, None, [], "x"], contacts=[],
                             statuses=[1, [], {"id": []}], user_preferences=[1, {"wa_id": {}, "value": []}])),
    envelope(messages_change(phone_number_id="106540352242922", errors=["x", 1, None])),
    envelope(messages_change(phone_number_id="106540352242922", errors={"code": 1})),
    envelope({"field": "messages", "value": {"metadata": ["x"], "messages": [message("text", body="hi")]}}),
    envelope({"field": "messages", "value": {"metadata": {"phone_number_id": {"a": 1}},
                                             "messages": [message("text", body="hi")]}}),
    envelope(messages_change(phone_number_id="106540352242922", contacts=[], messages=[
        {"from": {"a": 1}, "id": ["x"], "timestamp": {"t": 1}, "type": "text", "text": ["hi"]},
        {"from": "5511999990001", "id": "wamid.X1", "timestamp": "1718200000", "type": {"t": "text"}},
        {"from": "5511999990001", "id": "wamid.X2", "timestamp": "99999999999999999999", "type": "text"},
        {"from": "5511999990001", "id": "wamid.X3", "timestamp": "1718200000", "type": "text", "text": "hi",
         "context": ["x"], "referral": "x", "errors": {"code": 1}},
    ])),
    envelope({"field": "message_template_status_update", "value": {"message_template_id": {"x": 1}, "event": []}}),
    envelope({"field": "phone_number_quality_update", "value": {"display_phone_number": [], "event": {},
                                                               "current_limit": ["x"]}}),
    envelope({"field": "account_update", "value": {"event": ["x"]}}, time_=["not", "a", "time"]),
]


@pytest.mark.parametrize("payload", WRONG_TYPES)
def test_valid_json_of_the_wrong_shape_is_acknowledged_and_never_retried(deliver, number, payload):
    response = deliver(payload)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.UNROUTED)
    assert (event.attempts, event.error) == (1, "")


@pytest.mark.parametrize("payload", WRONG_TYPES)
def test_the_drain_never_fails_on_the_wrong_shape(number, payload):
    event = WebhookEvent.objects.create(body=json.dumps(payload).encode(), signature=WebhookEvent.Signature.VALID,
                                        signed_by=secret_fingerprint("test-app-secret"))
    assert services.webhook_events_drain() == 1
    event.refresh_from_db()
    assert event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.UNROUTED)
    assert event.error == ""


@pytest.mark.parametrize("body", [_deep("array", 100_000), _deep("object", 300), b"\xff not json"])
def test_a_stored_body_the_drain_cannot_decode_is_rejected_not_failed(number, body):
    event = WebhookEvent.objects.create(body=body, signature=WebhookEvent.Signature.VALID,
                                        signed_by=secret_fingerprint("test-app-secret"))
    assert services.webhook_events_drain() == 1
    event.refresh_from_db()
    assert (event.status, event.error) == (WebhookEvent.Status.REJECTED, "")
    assert event.reason.startswith("malformed body: ")


def test_replaying_a_dead_letter_with_an_unusable_body_marks_it_and_never_again(
        number, django_capture_on_commit_callbacks):
    event = WebhookEvent.objects.create(body=_deep("object", 100_000), signature=WebhookEvent.Signature.VALID,
                                        signed_by=secret_fingerprint("test-app-secret"),
                                        status=WebhookEvent.Status.DEAD)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_replay(events=[event.pk]) == 1
    event.refresh_from_db()
    assert (event.status, event.reason, event.error) == (
        WebhookEvent.Status.REJECTED, "malformed body: JSON nested too deeply", "")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_replay(events=[event.pk]) == 0


def test_an_unsigned_deep_body_is_refused_without_decoding(client, number):
    response = post_webhook(client, _deep("array", 100_000), secret=None)
    assert response.status_code == 401
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.REJECTED


def test_the_depth_limit_is_exact_whatever_the_brackets_in_strings():
    """Only a body with more opening brackets than the limit is walked: the limit holds
    at its edge, and brackets inside strings never let a deep body through."""
    from apps.providers.meta.body import MAX_DEPTH, MalformedBody, body_payload

    at_limit = ("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()
    assert body_payload(at_limit) is not None
    past = ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode()
    with pytest.raises(MalformedBody):
        body_payload(past)
    shallow_with_brackets = ('{"text": "' + "[{" * 100 + '"}').encode()
    assert body_payload(shallow_with_brackets) == {"text": "[{" * 100}
