"""Replay (the command and the admin action) and the admin pages of the boundary."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.conversations.models import Conversation
from apps.messaging.models import Message
from apps.inbound.models import WebhookEvent
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.utils import envelope, load_fixture, message, messages_change

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_media_download(mirrored):
    pass


@pytest.fixture
def superuser(db):
    return UserFactory(organization=None, is_superuser=True, is_staff=True)


def _fail_everything(monkeypatch):
    from apps.messaging.services import inbound

    real = inbound.message_content
    monkeypatch.setattr(inbound, "message_content", lambda *a: (_ for _ in ()).throw(RuntimeError("down")))
    return lambda: monkeypatch.setattr(inbound, "message_content", real)


def test_replay_command_failed(deliver, number, monkeypatch, django_capture_on_commit_callbacks, capsys):
    restore = _fail_everything(monkeypatch)
    deliver(load_fixture("text.json"))
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    restore()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", "--failed")
    assert "1 event(s) queued" in capsys.readouterr().out
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    assert Message.objects.count() == 1


def test_replaying_the_whole_log_creates_nothing_new(deliver, number, django_capture_on_commit_callbacks, published):
    from apps.messaging.tests.factories import OutboundMessageFactory

    deliver(load_fixture("several_messages.json"))
    conversation = Conversation.objects.get()
    OutboundMessageFactory(conversation=conversation, wamid="wamid.OUTBOUND_TEXT_0001")
    for name in ("statuses.json", "reaction.json", "phone_number_quality_update.json", "user_preferences.json"):
        deliver(load_fixture(name))
    deliver(load_fixture("text.json"), secret="wrong")  # rejected: never replayed
    counts = (Message.objects.count(), Conversation.objects.get().unread_count)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", "--since", "2000-01-01")
    assert (Message.objects.count(), Conversation.objects.get().unread_count) == counts
    assert published == []
    statuses = list(WebhookEvent.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["processed"] * 5 + ["rejected"]


def test_replay_command_by_id_and_range(deliver, number, django_capture_on_commit_callbacks, capsys):
    deliver(load_fixture("text.json"))
    event = WebhookEvent.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", str(event.id))
    assert "1 event(s)" in capsys.readouterr().out
    future = (timezone.now() + timedelta(days=1)).isoformat()
    call_command("replay_webhooks", "--since", future)
    assert "0 event(s)" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("replay_webhooks")
    with pytest.raises(CommandError):
        call_command("replay_webhooks", "999999")


def test_replay_routes_an_event_once_its_number_exists(deliver, settings, django_capture_on_commit_callbacks):
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    settings.META_APP_SECRET = "test-app-secret"
    deliver(load_fixture("text.json"))
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.UNROUTED
    number = WhatsAppNumberFactory(phone_number_id="106540352242922")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", str(event.id))
    event.refresh_from_db()
    assert (event.status, event.number) == (WebhookEvent.Status.PROCESSED, number)
    assert Message.objects.get().number == number


def test_admin_replay_action(client, superuser, deliver, number, monkeypatch, django_capture_on_commit_callbacks):
    restore = _fail_everything(monkeypatch)
    deliver(load_fixture("text.json"))
    event = WebhookEvent.objects.get()
    restore()
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/inbound/webhookevent/", {"action": "replay", "_selected_action": [event.id]},
                               follow=True)
    assert response.status_code == 200
    assert "1 event queued for processing." in response.content.decode()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert Message.objects.count() == 1


def test_admin_webhook_pages_show_the_decoded_body(client, superuser, deliver, number):
    deliver(load_fixture("text.json"))
    deliver(load_fixture("text.json"), secret=None)
    client.force_login(superuser)
    listing = client.get("/admin/inbound/webhookevent/", {"signature__exact": "missing"})
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    event = WebhookEvent.objects.filter(status="processed").get()
    page = client.get(f"/admin/inbound/webhookevent/{event.id}/change/")
    assert page.status_code == 200
    assert "Quero saber do meu pedido" in page.content.decode()


def test_admin_never_shows_number_secrets(client, superuser, number):
    number.access_token = "EAAG-very-secret-token-0001"
    number.app_secret = "app-secret-value-9999"
    number.save()
    client.force_login(superuser)
    listing = client.get("/admin/whatsapp/whatsappnumber/").content.decode()
    form = client.get(f"/admin/whatsapp/whatsappnumber/{number.id}/change/").content.decode()
    for page in (listing, form):
        assert "EAAG-very-secret-token-0001" not in page
        assert "app-secret-value-9999" not in page
    assert "••••••••01" in listing


def test_admin_keeps_secrets_left_empty_and_replaces_given_ones(client, superuser, number):
    client.force_login(superuser)
    page = client.get(f"/admin/whatsapp/whatsappnumber/{number.id}/change/")
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data = {k: ("" if v is None else (v.pk if hasattr(v, "pk") else v)) for k, v in data.items()}
    data.update(access_token="", app_secret="new-app-secret", is_active="on",
                rate_limit_per_second=80, organization=number.organization_id)
    response = client.post(f"/admin/whatsapp/whatsappnumber/{number.id}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = WhatsAppNumber.objects.get(pk=number.pk)
    assert stored.access_token == "EAAG-test-access-token-0123456789"
    assert stored.app_secret == "new-app-secret"


def test_admin_account_events_page(client, superuser, deliver, number):
    deliver(load_fixture("account_update.json"))
    client.force_login(superuser)
    response = client.get("/admin/inbound/accountevent/")
    assert response.status_code == 200
    assert "ACCOUNT_VIOLATION" in response.content.decode()


def test_organisation_admin_sees_only_its_events(client, deliver, number):
    from apps.accounts.tests.factories import AdminFactory
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    other = WhatsAppNumberFactory(phone_number_id="106540352242923")
    deliver(load_fixture("text.json"))
    deliver(envelope(messages_change(phone_number_id=other.phone_number_id, messages=[message("text", body="x")])))
    admin_user = AdminFactory(organization=number.organization, is_staff=True)
    client.force_login(admin_user)
    response = client.get("/admin/inbound/webhookevent/")
    assert response.status_code == 200
    assert [e.number_id for e in response.context["cl"].result_list] == [number.id]
