"""The webhook endpoint: verification, signatures, refusals, storage."""

import json

import pytest

from apps.inbound.models import WebhookEvent
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import load_fixture, post_webhook, sign

pytestmark = pytest.mark.django_db

URL = "/webhooks/whatsapp/"


# --- GET: Meta's subscription check -----------------------------------------------------


def test_get_with_a_number_verify_token_answers_the_challenge(client, number):
    response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "test-verify-token",
                                "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


def test_get_with_the_settings_verify_token(client, settings):
    settings.META_VERIFY_TOKEN = "from-settings"
    response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "from-settings", "hub.challenge": "42"})
    assert (response.status_code, response.content) == (200, b"42")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
        {},
    ],
)
def test_get_refused(client, number, params):
    response = client.get(URL, params)
    assert response.status_code == 403
    assert b"1" not in response.content


def test_get_refuses_the_token_of_an_inactive_number(client):
    WhatsAppNumberFactory(verify_token="old-token", is_active=False)
    response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "old-token", "hub.challenge": "9"})
    assert response.status_code == 403


# --- POST: signatures ------------------------------------------------------------------------


def test_signed_post_is_stored_and_acknowledged(deliver, number):
    payload = load_fixture("text.json")
    response = deliver(payload)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == json.dumps(payload).encode()
    assert event.signature == WebhookEvent.Signature.VALID
    assert event.status == WebhookEvent.Status.PROCESSED  # the drain ran on commit (tests/taskqueue.py)
    assert event.number == number
    assert event.organization == number.organization
    assert event.attempts == 1
    assert event.headers["HTTP_X_HUB_SIGNATURE_256"].startswith("sha256=")


def test_settings_app_secret_is_accepted(deliver, settings, number):
    settings.META_APP_SECRET = "global-secret"
    response = deliver(load_fixture("text.json"), secret="global-secret")
    assert response.status_code == 200
    assert WebhookEvent.objects.get().signature == WebhookEvent.Signature.VALID


def test_missing_signature_is_refused_and_counted(client, number):
    from apps.messaging.models import Message

    response = post_webhook(client, load_fixture("text.json"), secret=None)
    assert response.status_code == 401
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature) == (WebhookEvent.Status.REJECTED, WebhookEvent.Signature.MISSING)
    assert event.attempts == 0
    assert Message.objects.count() == 0


def test_wrong_signature_is_refused_and_counted(client, number):
    from apps.messaging.models import Message

    response = post_webhook(client, load_fixture("text.json"), secret="not-the-secret")
    assert response.status_code == 401
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature) == (WebhookEvent.Status.REJECTED, WebhookEvent.Signature.INVALID)
    assert Message.objects.count() == 0


def test_signature_of_reserialised_json_is_refused(client, number):
    payload = load_fixture("text.json")
    body = json.dumps(payload, indent=1).encode()
    signature = sign(json.dumps(payload).encode(), "test-app-secret")
    response = post_webhook(client, body, signature=signature)
    assert response.status_code == 401


@pytest.mark.parametrize("header", ["sha1=abc", "sha256=", "sha256=zz", "garbage"])
def test_malformed_signature_headers_are_refused(client, number, header):
    response = post_webhook(client, load_fixture("text.json"), signature=header)
    assert response.status_code == 401
    assert WebhookEvent.objects.get().signature == WebhookEvent.Signature.INVALID


def test_unauthenticated_body_is_truncated_to_1_kb(client, number):
    body = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * 200_000 + b'"}'
    response = post_webhook(client, body, secret=None)
    assert response.status_code == 401
    assert bytes(WebhookEvent.objects.get().body) == body[:1024]


# --- POST: malformed bodies -----------------------------------------------------------------


def test_body_over_the_limit_is_refused(client, number, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    body = json.dumps({"object": "whatsapp_business_account", "entry": [], "pad": "x" * 2000}).encode()
    response = post_webhook(client, body)
    assert response.status_code == 400
    assert "larger" in response.json()["error"]
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.REJECTED
    assert "larger than 1000 bytes" in event.reason


def test_signed_body_that_is_not_json_is_kept_and_acknowledged(client, number):
    # 200: Meta retries any other answer for days, and retrying cannot help.
    response = post_webhook(client, b"this is not json")
    assert response.status_code == 200
    assert response.json() == {"ok": False, "error": "malformed body: body is not JSON"}
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature, event.reason) == (
        WebhookEvent.Status.REJECTED, WebhookEvent.Signature.VALID, "malformed body: body is not JSON"
    )
    assert bytes(event.body) == b"this is not json"


@pytest.mark.parametrize("payload", [{"object": "page", "entry": []}, [1, 2], {"entry": []}])
def test_wrong_object_is_kept_and_acknowledged(client, number, payload):
    response = post_webhook(client, payload)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.REJECTED


def test_other_methods_are_not_allowed(client):
    assert client.put(URL).status_code == 405


def test_view_does_one_insert_and_no_other_query_before_the_task(client, number, django_assert_num_queries,
                                                                django_capture_on_commit_callbacks, monkeypatch):
    """With the secrets cached, storing a delivery is one INSERT, then one wake-up
    of the inbound worker on commit (stubbed here)."""
    from apps.whatsapp import secrets
    from apps.inbound.services import receiving

    secrets.app_secrets()  # warm the in-process cache
    calls = []
    monkeypatch.setattr(receiving, "wake_drain", lambda: calls.append(1))
    with django_capture_on_commit_callbacks(execute=True):
        with django_assert_num_queries(1):
            response = post_webhook(client, load_fixture("text.json"))
    assert response.status_code == 200
    assert len(calls) == 1


def test_a_number_added_after_the_cache_was_filled_is_accepted(deliver, number, monkeypatch):
    from apps.whatsapp import secrets
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    clock = [1000.0]
    monkeypatch.setattr(secrets.time, "monotonic", lambda: clock[0])
    secrets.app_secrets()
    new = WhatsAppNumberFactory(app_secret="brand-new-secret", phone_number_id="106540352242999")
    clock[0] += 0.5  # within the refresh floor: not re-read yet
    assert deliver(load_fixture("text.json"), secret="brand-new-secret").status_code == 401
    clock[0] += 1.0
    assert deliver(load_fixture("text.json"), secret="brand-new-secret").status_code == 200
    assert new.app_secret in secrets.app_secrets()


def test_forged_deliveries_reread_secrets_at_most_once_a_second(client, number, monkeypatch,
                                                                django_assert_num_queries):
    from apps.whatsapp import secrets

    monkeypatch.setattr(secrets.time, "monotonic", lambda: 5000.0)
    secrets.app_secrets()
    with django_assert_num_queries(3):  # three rejected INSERTs, no secret reads
        for _ in range(3):
            assert post_webhook(client, load_fixture("text.json"), secret="forged").status_code == 401


def test_deliveries_take_the_short_middleware_path(client, number, deliver):
    """A delivery skips the browser middleware (no language negotiation, no frame
    options) but keeps the security headers; other requests keep the full stack."""

    response = deliver({"object": "whatsapp_business_account", "entry": []})
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Language" not in response and "X-Frame-Options" not in response
    assert response["Content-Length"] == str(len(response.content))
    refused = client.get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "wrong"})
    assert refused.status_code == 403
    assert "X-Frame-Options" in refused


def test_a_number_bound_with_a_new_secret_is_accepted_at_once(deliver, number, monkeypatch):
    """number_bind forgets the cached secrets (it clears the secrets cache itself): no wait
    for the refresh floor."""
    from apps.whatsapp.services import number_bind
    from apps.whatsapp import secrets

    monkeypatch.setattr(secrets.time, "monotonic", lambda: 7000.0)
    secrets.app_secrets()
    number_bind(organization=number.organization, phone_number_id=number.phone_number_id,
                provider=number.provider, app_secret="rebound-secret")
    assert deliver(load_fixture("text.json"), secret="rebound-secret").status_code == 200
