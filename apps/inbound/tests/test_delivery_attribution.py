"""Whose admins may read a stored delivery (audit 16).

Admin scopes webhook deliveries by their organisation, and a delivery's page shows
its whole body. One delivery signed with the platform secret (META_APP_SECRET) may
carry entries for several organisations' numbers, so a delivery belongs to an
organisation (and a number) only when every part of its body is that
organisation's (that number's); otherwise it has none and only platform staff see
it. Every processing path decides it the same way: the single task, the drain's
first try, its second try batch by batch and delivery by delivery, and replay."""

import json

import pytest

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.conversations.models import Conversation
from apps.messaging.models import Message
from apps.inbound import services
from apps.inbound.models import WebhookEvent
from apps.inbound.services import processing
from apps.providers.meta.signature import secret_fingerprint, sign_body
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import envelope, load_fixture, message, messages_change

pytestmark = pytest.mark.django_db

PLATFORM = "platform-secret"


@pytest.fixture(autouse=True)
def _platform(settings, mirrored):
    settings.META_APP_SECRET = PLATFORM


@pytest.fixture
def number_a(db):
    return WhatsAppNumberFactory(app_secret="", phone_number_id="500000000000001", waba_id="500000000000009")


@pytest.fixture
def number_b(db):
    return WhatsAppNumberFactory(app_secret="", phone_number_id="600000000000001", waba_id="600000000000009")


def _entry(number, *messages, **change):
    return envelope(messages_change(phone_number_id=number.phone_number_id, messages=list(messages), **change),
                    waba_id=number.waba_id)["entry"][0]


def _payload(*entries):
    return {"object": "whatsapp_business_account", "entry": list(entries)}


def _two_organisations(number_a, number_b):
    return _payload(_entry(number_a, message("text", wamid="wamid.A1", body="secret of A")),
                    _entry(number_b, message("text", wamid="wamid.B1", body="secret of B")))


def _stored(payload, secret=PLATFORM, **fields):
    """A delivery as the view stores it for the drain: its signer's fingerprint."""
    body = json.dumps(payload).encode()
    return WebhookEvent.objects.create(body=body, signature=WebhookEvent.Signature.VALID,
                                       signed_by=secret_fingerprint(secret),
                                       headers={"HTTP_X_HUB_SIGNATURE_256": sign_body(body, secret)}, **fields)


def _admin_of(number):
    return AdminFactory(organization=number.organization, is_staff=True)


def _hidden_from(client, user, event, *texts):
    """`user` finds the delivery neither in the list nor at its page, nor any of `texts`."""
    client.force_login(user)
    listing = client.get("/admin/inbound/webhookevent/")
    assert listing.status_code == 200
    assert event.pk not in [row.pk for row in listing.context["cl"].result_list]
    page = client.get(f"/admin/inbound/webhookevent/{event.pk}/change/")
    assert page.status_code in (302, 404)
    for text in texts:
        assert text not in listing.content.decode()
        assert text not in page.content.decode()


def _shown_to(client, user, event, *texts):
    client.force_login(user)
    page = client.get(f"/admin/inbound/webhookevent/{event.pk}/change/")
    assert page.status_code == 200
    for text in texts:
        assert text in page.content.decode()


def _inboxes(number_a, number_b):
    return sorted(Message.objects.values_list("wamid", "conversation__organization"))


def _attribution(event):
    event.refresh_from_db()
    return event.status, event.organization_id, event.number_id


# --- Through the view: stored, then drained on commit ----------------------


def test_a_delivery_for_two_organisations_reaches_both_inboxes_and_no_organisations_admin(
        client, deliver, number_a, number_b):
    response = deliver(_two_organisations(number_a, number_b), secret=PLATFORM)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert _attribution(event) == (WebhookEvent.Status.PROCESSED, None, None)
    assert _inboxes(number_a, number_b) == [("wamid.A1", number_a.organization_id),
                                            ("wamid.B1", number_b.organization_id)]
    for number in (number_a, number_b):
        _hidden_from(client, _admin_of(number), event, "secret of A", "secret of B")
    platform = UserFactory(organization=None, is_superuser=True, is_staff=True)
    _shown_to(client, platform, event, "secret of A", "secret of B")


def test_a_delivery_for_one_organisation_is_its_admins(client, deliver, number_a, number_b):
    deliver(_payload(_entry(number_a, message("text", wamid="wamid.A1", body="only A"))), secret=PLATFORM)
    event = WebhookEvent.objects.get()
    assert _attribution(event) == (WebhookEvent.Status.PROCESSED, number_a.organization_id, number_a.pk)
    _shown_to(client, _admin_of(number_a), event, "only A")
    _hidden_from(client, _admin_of(number_b), event, "only A")


def test_two_numbers_of_one_organisation_give_the_organisation_and_no_number(deliver, number_a):
    second = WhatsAppNumberFactory(app_secret="", organization=number_a.organization,
                                   phone_number_id="500000000000002", waba_id=number_a.waba_id)
    deliver(_payload(_entry(number_a, message("text", body="one")), _entry(second, message("text", body="two"))),
            secret=PLATFORM)
    assert _attribution(WebhookEvent.objects.get()) == (
        WebhookEvent.Status.PROCESSED, number_a.organization_id, None)
    assert Message.objects.count() == 2


@pytest.mark.parametrize("case", ["unknown number", "own secret", "contacts only", "template of B",
                                  "malformed item of B", "entry not an object"])
def test_a_part_of_anyone_else_leaves_the_delivery_to_platform_staff(client, deliver, number_a, number_b, case):
    """A's message with, in the same platform-signed body, something that is not A's:
    A's message is stored, the delivery is no organisation's."""
    parts = [_entry(number_a, message("text", wamid="wamid.A1", body="hello A"))]
    if case == "unknown number":
        parts.append(_entry(WhatsAppNumberFactory.build(phone_number_id="700000000000001"),
                            message("text", body="secret of a stranger")))
    elif case == "own secret":  # a number with its own secret did not sign it: refused
        number_b.app_secret = "b-own-secret"
        number_b.save()
        parts.append(_entry(number_b, message("text", body="secret of B")))
    elif case == "contacts only":  # no item, yet B's customers' names
        parts.append(_entry(number_b, contacts=[{"profile": {"name": "secret of B"}, "wa_id": "5511999990009"}]))
    elif case == "template of B":
        payload = load_fixture("template_status_update.json")
        payload["entry"][0]["id"] = number_b.waba_id
        parts.append(payload["entry"][0])
    elif case == "malformed item of B":
        parts.append(_entry(number_b, {"text": {"body": "secret of B"}}, contacts=[]))
    else:
        parts.append("secret of B")
    deliver(_payload(*parts), secret=PLATFORM)
    event = WebhookEvent.objects.get()
    assert _attribution(event)[1:] == (None, None)
    assert list(Message.objects.filter(conversation__organization=number_a.organization)
                .values_list("wamid", flat=True)) == ["wamid.A1"]
    _hidden_from(client, _admin_of(number_a), event, "hello A")


def test_an_organisations_own_secret_keeps_its_delivery_whatever_it_names(deliver, number_a, number_b):
    """B signs with B's own secret a body naming A's number too: that item is refused
    (B wrote it), and the delivery is B's."""
    number_b.app_secret = "b-own-secret"
    number_b.save()
    deliver(_payload(_entry(number_b, message("text", wamid="wamid.B1", body="to B")),
                     _entry(number_a, message("text", wamid="wamid.A1", body="to A"))), secret="b-own-secret")
    event = WebhookEvent.objects.get()
    assert _attribution(event) == (WebhookEvent.Status.PROCESSED, number_b.organization_id, number_b.pk)
    assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.B1"]


def test_a_failed_delivery_for_two_organisations_is_no_organisations(deliver, number_a, number_b, monkeypatch):
    from apps.messaging.services import inbound

    monkeypatch.setattr(inbound, "message_content", lambda *a: (_ for _ in ()).throw(RuntimeError("down")))
    deliver(_two_organisations(number_a, number_b), secret=PLATFORM)
    assert _attribution(WebhookEvent.objects.get()) == (WebhookEvent.Status.FAILED, None, None)
    assert Message.objects.count() == 0


# --- Replay: a delivery attributed by the former rule is attributed again ------------------------


def test_replay_takes_a_misattributed_delivery_away_from_the_first_organisation(
        client, number_a, number_b, run_on_commit):
    event = _stored(_two_organisations(number_a, number_b), status=WebhookEvent.Status.PROCESSED,
                    organization=number_a.organization, number=number_a)
    assert run_on_commit(services.webhook_events_replay, events=[event.pk]) == 1
    assert _attribution(event) == (WebhookEvent.Status.PROCESSED, None, None)
    assert Conversation.objects.count() == 2
    _hidden_from(client, _admin_of(number_a), event, "secret of B")


# --- The drains (the batched path on PostgreSQL) -------------------------------------------------


def _failing(monkeypatch, target, name, times):
    real = getattr(target, name)
    calls = []

    def fail_first(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise RuntimeError("this try fails")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, fail_first)


@pytest.mark.parametrize("path", ["first try", "first try, cached numbers", "batch by batch",
                                  "delivery by delivery"])
def test_every_drain_path_attributes_only_single_organisation_deliveries(
        client, settings, monkeypatch, number_a, number_b, path):
    from apps.messaging.services import inbound

    if path == "first try, cached numbers":
        settings.INBOUND_NUMBER_CACHE_SECONDS = 60
        services.number_cache_clear()
        services.webhook_events_drain()  # nothing waits: the cache stays empty
        processing._numbers_remember([number_a, number_b])
    elif path == "batch by batch":
        _failing(monkeypatch, inbound, "messages_receive_batch", 1)
    elif path == "delivery by delivery":
        _failing(monkeypatch, processing, "_numbers_for", 2)
    mixed = _stored(_two_organisations(number_a, number_b))
    only_b = _stored(_payload(_entry(number_b, message("text", wamid="wamid.B2", body="only B"))))
    try:
        assert services.webhook_events_drain() == 2
    finally:
        services.number_cache_clear()
    assert _attribution(mixed) == (WebhookEvent.Status.PROCESSED, None, None)
    assert _attribution(only_b) == (WebhookEvent.Status.PROCESSED, number_b.organization_id, number_b.pk)
    assert sorted(Message.objects.values_list("wamid", flat=True)) == ["wamid.A1", "wamid.B1", "wamid.B2"]
    _hidden_from(client, _admin_of(number_b), mixed, "secret of A")
    _shown_to(client, _admin_of(number_b), only_b, "only B")


# --- Deliveries stored before: decided again without processing them -------------------------


def test_deliveries_attributed_by_the_former_rule_are_decided_again(client, number_a, number_b):
    processed = WebhookEvent.Status.PROCESSED
    mixed = _stored(_two_organisations(number_a, number_b), status=processed,
                    organization=number_a.organization, number=number_a)
    only_b = _stored(_payload(_entry(number_b, message("text", body="only B"))), status=processed,
                     organization=number_b.organization, number=number_b)
    unreadable = _stored({"object": "whatsapp_business_account"}, status=processed,
                         organization=number_a.organization)
    unreadable.body = b"not json"
    unreadable.save(update_fields=["body"])
    nobodys = _stored(_payload(_entry(number_a, message("text", body="x"))), status=WebhookEvent.Status.UNROUTED)
    assert services.webhook_events_reattribute(batch=2) == 2
    assert [_attribution(event)[1:] for event in (mixed, only_b, unreadable, nobodys)] == [
        (None, None), (number_b.organization_id, number_b.pk), (None, None), (None, None)]
    assert Message.objects.count() == 0
    assert services.webhook_events_reattribute() == 0
    _hidden_from(client, _admin_of(number_a), mixed, "secret of B")


def test_the_migration_decides_stored_deliveries_again(number_a, number_b):
    """inbound.0002 runs the same re-check once on upgrade."""
    import importlib

    migration = importlib.import_module("apps.inbound.migrations.0002_webhook_events_reattribute")
    mixed = _stored(_two_organisations(number_a, number_b), status=WebhookEvent.Status.PROCESSED,
                    organization=number_a.organization, number=number_a)
    migration.reattribute(None, None)
    assert _attribution(mixed)[1:] == (None, None)
