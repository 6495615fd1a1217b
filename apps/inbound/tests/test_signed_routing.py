"""Every webhook item is routed only to a number whose own secret signed the
delivery (or the platform secret, for a number without a secret of its own).

Organisation A owns the `number` fixture (secret "test-app-secret", the ids of the
recorded fixtures); organisation B's admin knows only B's secret and signs with it
deliveries that name A's phone_number_id or WABA id."""

import json

import pytest

from apps.conversations.models import Contact, Conversation
from apps.inbound import services
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.inbound.tests.helpers import outbound_to_customer
from apps.messaging.models import Message, Status
from apps.providers.meta.signature import secret_fingerprint, sign_body
from apps.whatsapp.tests.conftest import CUSTOMER
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import (
    envelope,
    load_fixture,
    message,
    messages_change,
    status,
)

pytestmark = pytest.mark.django_db

B_SECRET = "secret-of-organisation-b"
REFUSED = "not signed by this number's secret"


@pytest.fixture(autouse=True)
def _no_media_download(mirrored):
    pass


@pytest.fixture
def number_b(db):
    return WhatsAppNumberFactory(app_secret=B_SECRET, phone_number_id="300000000000001", waba_id="300000000000009",
                                 display_phone_number="+1 555-000-0002")


def _refused(event):
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.REJECTED
    assert REFUSED in event.reason
    assert (event.number, event.organization) == (None, None)
    return event


def test_a_message_signed_with_another_organisations_secret_is_refused(deliver, number, number_b, published):
    response = deliver(load_fixture("text.json"), secret=B_SECRET)
    assert response.status_code == 200
    event = _refused(WebhookEvent.objects.get())
    assert "entry[0].changes[0].messages[0]" in event.reason
    assert event.signed_by == secret_fingerprint(B_SECRET)
    assert (Message.objects.count(), Contact.objects.count(), Conversation.objects.count()) == (0, 0, 0)
    assert published == []


def test_statuses_signed_by_another_organisation_change_nothing(deliver, number, number_b):
    outbound = outbound_to_customer(number, status=Status.SENT)
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, statuses=[
        status(outbound.wamid, "failed", errors=[{"code": 131026, "title": "Message undeliverable"}])])),
        secret=B_SECRET)
    _refused(WebhookEvent.objects.get())
    outbound.refresh_from_db()
    assert (outbound.status, outbound.error_code) == (Status.SENT, None)
    from apps.messaging.models import PendingStatus

    assert PendingStatus.objects.count() == 0


def test_opt_outs_signed_by_another_organisation_are_refused(deliver, number, number_b):
    from apps.conversations.tests.factories import ContactFactory

    contact = ContactFactory(organization=number.organization, wa_id=CUSTOMER)
    deliver(load_fixture("user_preferences.json"), secret=B_SECRET)
    _refused(WebhookEvent.objects.get())
    contact.refresh_from_db()
    assert (contact.marketing_opted_out, contact.marketing_opted_out_at, contact.opted_out) == (False, None, False)
    assert Contact.objects.count() == 1


def test_a_template_update_by_another_organisations_waba_is_refused(deliver, number, number_b):
    from apps.message_templates.models import MessageTemplate
    from apps.message_templates.tests.factories import MessageTemplateFactory

    template = MessageTemplateFactory(organization=number.organization, meta_id="12345678901",
                                      waba_id=number.waba_id, name="order_shipped", language="pt_BR")
    payload = load_fixture("template_status_update.json")
    payload["entry"][0]["changes"][0]["value"].update(event="DISABLED", reason="")
    deliver(payload, secret=B_SECRET)
    _refused(WebhookEvent.objects.get())
    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == (MessageTemplate.Status.APPROVED, "")


@pytest.mark.parametrize("fixture", ["phone_number_quality_update.json", "account_update.json"])
def test_account_notices_by_another_organisations_waba_are_refused(deliver, number, number_b, fixture):
    deliver(load_fixture(fixture), secret=B_SECRET)
    event = _refused(WebhookEvent.objects.get())
    assert "WABA 102290129340398" in event.reason
    assert AccountEvent.objects.count() == 0
    number.refresh_from_db()
    assert (number.messaging_limit, number.quality_rating) == ("", "")


def test_value_errors_signed_by_another_organisation_are_refused(deliver, number, number_b):
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id,
                                     errors=[{"code": 131047, "title": "Re-engagement message"}])), secret=B_SECRET)
    _refused(WebhookEvent.objects.get())
    assert AccountEvent.objects.count() == 0


def test_a_mixed_delivery_routes_the_signers_items_and_refuses_the_others(deliver, number, number_b):
    payload = envelope(messages_change(phone_number_id=number_b.phone_number_id,
                                       messages=[message("text", wamid="wamid.B1", body="to B")]),
                       waba_id=number_b.waba_id)
    payload["entry"].append(envelope(messages_change(phone_number_id=number.phone_number_id,
                                                     messages=[message("text", wamid="wamid.A1", body="to A")]),
                                     waba_id=number.waba_id)["entry"][0])
    deliver(payload, secret=B_SECRET)
    event = WebhookEvent.objects.get()
    assert (event.status, event.number, event.organization) == (
        WebhookEvent.Status.PROCESSED, number_b, number_b.organization)
    assert event.reason == f"entry[1].changes[0].messages[0]: phone number {number.phone_number_id} {REFUSED}"
    assert list(Message.objects.values_list("wamid", "number")) == [("wamid.B1", number_b.pk)]
    assert not Contact.objects.filter(organization=number.organization).exists()


def test_the_platform_secret_routes_only_to_numbers_without_their_own(deliver, settings, number):
    settings.META_APP_SECRET = "platform-secret"
    bare = WhatsAppNumberFactory(app_secret="", phone_number_id="400000000000001")
    deliver(envelope(messages_change(phone_number_id=bare.phone_number_id,
                                     messages=[message("text", wamid="wamid.P1", body="hello")])),
            secret="platform-secret")
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert list(Message.objects.values_list("wamid", "number")) == [("wamid.P1", bare.pk)]
    WebhookEvent.objects.all().delete()
    deliver(load_fixture("text.json"), secret="platform-secret")  # names `number`, which has its own
    _refused(WebhookEvent.objects.get())
    assert Message.objects.count() == 1


def test_a_numbers_own_secret_does_not_route_to_numbers_on_the_platform_secret(deliver, settings, number):
    settings.META_APP_SECRET = "platform-secret"
    bare = WhatsAppNumberFactory(app_secret="", phone_number_id="400000000000001")
    deliver(envelope(messages_change(phone_number_id=bare.phone_number_id,
                                     messages=[message("text", body="hello")])), secret="test-app-secret")
    _refused(WebhookEvent.objects.get())
    assert Message.objects.count() == 0


def test_a_refused_delivery_is_never_replayed(deliver, number, number_b, django_capture_on_commit_callbacks):
    deliver(load_fixture("text.json"), secret=B_SECRET)
    event = WebhookEvent.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_replay(events=[event.pk]) == 0
    _refused(event)
    assert Message.objects.count() == 0


def test_a_replayed_mixed_delivery_still_refuses_the_other_organisations_items(
        deliver, number, number_b, django_capture_on_commit_callbacks):
    payload = envelope(messages_change(phone_number_id=number_b.phone_number_id,
                                       messages=[message("text", wamid="wamid.B1", body="to B")]))
    payload["entry"].append(envelope(messages_change(phone_number_id=number.phone_number_id,
                                                     messages=[message("text", wamid="wamid.A1", body="to A")]))
                            ["entry"][0])
    deliver(payload, secret=B_SECRET)
    event = WebhookEvent.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_replay(events=[event.pk]) == 1
    event.refresh_from_db()
    assert (event.status, event.number) == (WebhookEvent.Status.PROCESSED, number_b)
    assert REFUSED in event.reason
    assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.B1"]


# --- The drains (the batched path on PostgreSQL) ------------------------------------------------


def _stored(payload, secret):
    """A delivery as the view stores it: the fingerprint of the secret that signed it."""
    body = json.dumps(payload).encode()
    return WebhookEvent.objects.create(body=body, signature=WebhookEvent.Signature.VALID,
                                       signed_by=secret_fingerprint(secret),
                                       headers={"HTTP_X_HUB_SIGNATURE_256": sign_body(body, secret)})


@pytest.mark.parametrize("cache_seconds", [0, 60])
def test_the_drain_routes_by_the_secret_that_signed(number, number_b, settings, cache_seconds):
    settings.INBOUND_NUMBER_CACHE_SECONDS = cache_seconds
    outbound = outbound_to_customer(number, status=Status.SENT)
    forged = _stored(load_fixture("text.json"), B_SECRET)
    forged_status = _stored(envelope(messages_change(phone_number_id=number.phone_number_id,
                                                     statuses=[status(outbound.wamid, "read")])), B_SECRET)
    genuine = _stored(envelope(messages_change(phone_number_id=number_b.phone_number_id,
                                               messages=[message("text", wamid="wamid.B9", body="hi B")])), B_SECRET)
    own = _stored(envelope(messages_change(phone_number_id=number.phone_number_id,
                                           statuses=[status(outbound.wamid, "delivered")])), "test-app-secret")
    # The first drain fills the number cache (when on); the second one reads from it.
    assert services.webhook_events_drain(limit=2) == 2
    assert services.webhook_events_drain(limit=10) == 2
    _refused(forged)
    _refused(forged_status)
    for event, expected in ((genuine, number_b), (own, number)):
        event.refresh_from_db()
        assert (event.status, event.number) == (WebhookEvent.Status.PROCESSED, expected)
    outbound.refresh_from_db()
    assert outbound.status == Status.DELIVERED
    assert list(Message.objects.filter(direction="in").values_list("wamid", flat=True)) == ["wamid.B9"]
    services.number_cache_clear()


def test_the_drains_second_try_still_refuses(number, number_b, monkeypatch):
    from apps.messaging.services import inbound

    real = inbound.messages_receive_batch
    calls = []

    def fail_first(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return real(**kwargs)

    monkeypatch.setattr(inbound, "messages_receive_batch", fail_first)
    forged = _stored(load_fixture("text.json"), B_SECRET)
    genuine = _stored(envelope(messages_change(phone_number_id=number_b.phone_number_id,
                                               messages=[message("text", wamid="wamid.B9", body="hi B")])), B_SECRET)
    assert services.webhook_events_drain() == 2
    _refused(forged)
    genuine.refresh_from_db()
    assert genuine.status == WebhookEvent.Status.PROCESSED
    assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.B9"]


def test_a_delivery_stored_before_fingerprints_is_checked_against_its_stored_signature(number, number_b):
    forged = _stored(load_fixture("text.json"), B_SECRET)
    genuine = _stored(load_fixture("text.json"), "test-app-secret")
    unsigned = WebhookEvent.objects.create(body=json.dumps(load_fixture("text.json")).encode(),
                                           signature=WebhookEvent.Signature.VALID)
    WebhookEvent.objects.update(signed_by="")
    assert services.webhook_events_drain() == 3
    _refused(forged)
    _refused(unsigned)
    genuine.refresh_from_db()
    assert (genuine.status, genuine.number) == (WebhookEvent.Status.PROCESSED, number)
    assert Message.objects.count() == 1


def test_a_fingerprint_is_keyed_and_never_the_secret(settings):
    first = secret_fingerprint(B_SECRET)
    assert len(first) == 64 and B_SECRET not in first
    assert secret_fingerprint(B_SECRET) == first and secret_fingerprint("other") != first
    settings.SECRET_KEY = "another-key-" + "x" * 50
    assert secret_fingerprint(B_SECRET) != first
