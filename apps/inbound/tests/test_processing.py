"""End to end: signed POST → 200 → drain (run on commit) → rows and live events."""

import json

import pytest

from apps.conversations.models import Contact, Conversation
from apps.inbound.models import WebhookEvent
from apps.inbound.tests.helpers import outbound_to_customer
from apps.media.models import Media
from apps.messaging.models import Message, MessageType, Reaction, Status
from apps.whatsapp.tests.conftest import CUSTOMER
from apps.whatsapp.tests.utils import envelope, load_fixture, message, messages_change

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_media_download(mirrored):
    """The media app's own tests download files; here only the hand-over is checked."""


def only_message():
    return Message.objects.get()


def test_text_message_creates_contact_conversation_and_message(deliver, number, published):
    response = deliver(load_fixture("text.json"))
    assert response.status_code == 200
    msg = only_message()
    assert (msg.direction, msg.author_type, msg.status, msg.type) == ("in", "customer", "received", "text")
    assert msg.text == "Olá! Quero saber do meu pedido."
    assert msg.content == {"body": "Olá! Quero saber do meu pedido."}
    assert msg.timestamp.isoformat() == "2024-06-12T13:46:40+00:00"
    contact = Contact.objects.get()
    assert (contact.wa_id, contact.profile_name, contact.organization) == (CUSTOMER, "Maria Souza", number.organization)
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 1
    assert conversation.last_message_at == msg.timestamp
    assert conversation.last_customer_message_at == msg.timestamp
    assert conversation.last_message_preview == msg.text
    assert [e[0] for e in published] == ["message.created", "conversation.created"]
    assert published[0][1]["id"] == msg.id
    assert published[1][2] == [f"org.{number.organization_id}.supervisors", f"number.{number.id}"]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_duplicate_delivery_creates_one_message(deliver, number, published):
    payload = load_fixture("text.json")
    deliver(payload)
    published.clear()
    deliver(payload)
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert published == []
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["processed", "processed"]


def test_second_message_updates_the_conversation(deliver, number, published):
    deliver(load_fixture("several_messages.json"))
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 3
    assert conversation.last_message_preview == "Photo"
    # Messages of one delivery are stored as a batch: an event for each message, and
    # one for the conversation carrying its state after all of them.
    assert [e[0] for e in published] == [
        "message.created", "message.created", "message.created", "conversation.created",
    ]
    assert published[-1][1]["unread_count"] == 3
    assert published[-1][1]["last_message_preview"] == "Photo"


def test_a_late_older_message_does_not_move_the_preview_back(deliver, number):
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id,
                                     messages=[message("text", body="newer", timestamp=1718200100)])))
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id,
                                     messages=[message("text", body="older", timestamp=1718200000)])))
    conversation = Conversation.objects.get()
    assert conversation.last_message_preview == "newer"
    assert conversation.last_message_at.timestamp() == 1718200100
    assert conversation.unread_count == 2
    assert list(Message.objects.order_by("timestamp").values_list("text", flat=True)) == ["older", "newer"]


@pytest.mark.parametrize(
    "fixture, kind, text, media",
    [
        ("image.json", "image", "Foto do produto", ("1479537139650973", "image/jpeg")),
        ("video.json", "video", "Unboxing", ("1020304050607080", "video/mp4")),
        ("audio_voice.json", "audio", "", ("2030405060708090", "audio/ogg; codecs=opus")),
        ("document.json", "document", "Nota fiscal nota-fiscal-1234.pdf", ("3040506070809010", "application/pdf")),
        ("sticker.json", "sticker", "", ("4050607080901020", "image/webp")),
    ],
)
def test_media_messages_create_pending_media_and_mirror(deliver, number, mirrored, fixture, kind, text, media):
    deliver(load_fixture(fixture))
    msg = only_message()
    assert (msg.type, msg.text) == (kind, text)
    row = Media.objects.get()
    assert (row.meta_media_id, row.mime_type, row.state, row.message) == (*media, Media.State.PENDING, msg)
    assert row.sha256 == msg.content["sha256"]
    assert mirrored == [row.id]


def test_voice_note_and_animated_sticker_are_marked(deliver, number, mirrored):
    deliver(load_fixture("audio_voice.json"))
    deliver(load_fixture("sticker.json"))
    voice, sticker = Message.objects.order_by("id")
    assert voice.content["voice"] is True
    assert sticker.content["animated"] is True
    # Same second: the first stays the preview (only a newer message replaces it).
    assert Conversation.objects.get().last_message_preview == "Voice message"
    assert Media.objects.get(message=voice).filename == ""
    assert Media.objects.filter(message=Message.objects.get(type="sticker")).exists()


@pytest.mark.parametrize(
    "fixture, kind, text",
    [
        ("location.json", "location", "MASP Av. Paulista, 1578 - São Paulo"),
        ("contacts.json", "contacts", "João Pereira"),
        ("interactive_button_reply.json", "interactive", "Sim, confirmar"),
        ("interactive_list_reply.json", "interactive", "Plano Pro — R$ 99/mês"),
        ("interactive_nfm_reply.json", "interactive", "Sent"),
        ("button.json", "button", "Parar promoções"),
        ("order.json", "order", "Quero estes"),
        ("system.json", "system", "Maria Souza changed from 5511987654321 to 5511911112222"),
        ("request_welcome.json", "request_welcome", ""),
    ],
)
def test_other_types_are_stored_with_their_content(deliver, number, fixture, kind, text):
    payload = load_fixture(fixture)
    deliver(payload)
    msg = only_message()
    assert (msg.type, msg.text) == (kind, text)
    original = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    if kind == "contacts":
        assert msg.content == {"contacts": original["contacts"]}
    elif kind in original:
        for key, value in original[kind].items():
            if key == "nfm_reply":
                value = {**value, "response": json.loads(value["response_json"])}
            assert msg.content[key] == value


def test_nfm_reply_response_json_is_parsed(deliver, number):
    deliver(load_fixture("interactive_nfm_reply.json"))
    assert only_message().content["nfm_reply"]["response"] == {"flow_token": "FT-123", "rating": "5", "comment": "Ótimo"}


def test_unsupported_and_unknown_types_are_kept_raw(deliver, number):
    deliver(load_fixture("unsupported.json"))
    deliver(load_fixture("unknown_type.json"))
    unsupported, unknown = Message.objects.order_by("id")
    assert unsupported.type == MessageType.UNSUPPORTED
    assert unsupported.errors[0]["code"] == 131051
    assert unknown.type == MessageType.UNSUPPORTED
    assert unknown.content["original_type"] == "hologram"
    assert unknown.content["message"]["hologram"] == {"id": "777", "shape": "cube"}


def test_message_errors_referral_and_forwarding_are_kept(deliver, number, mirrored):
    deliver(load_fixture("message_with_errors.json"))
    deliver(load_fixture("referral.json"))
    deliver(load_fixture("forwarded.json"))
    with_errors, ad, forwarded, frequently = Message.objects.order_by("id")
    assert with_errors.errors[0]["code"] == 131052
    assert ad.referral["source_id"] == "120210000000000"
    assert (forwarded.forwarded, forwarded.frequently_forwarded) == (True, False)
    assert (frequently.forwarded, frequently.frequently_forwarded) == (False, True)


def test_reply_context_links_the_replied_message(deliver, number):
    from apps.messaging.tests.factories import OutboundMessageFactory

    deliver(load_fixture("text.json"))
    conversation = Conversation.objects.get()
    original = OutboundMessageFactory(conversation=conversation, wamid="wamid.OUTBOUND_TEXT_0001", status=Status.SENT)
    deliver(load_fixture("reply_context.json"))
    reply = Message.objects.get(text="Sobre isso aqui")
    assert (reply.reply_to, reply.reply_to_wamid) == (original, "wamid.OUTBOUND_TEXT_0001")


def test_reply_to_an_unknown_message_keeps_the_wamid(deliver, number):
    deliver(load_fixture("reply_context.json"))
    reply = only_message()
    assert (reply.reply_to, reply.reply_to_wamid) == (None, "wamid.OUTBOUND_TEXT_0001")


# --- Reactions, edits, revokes --------------------------------------------------------------


def test_reaction_added_changed_and_removed(deliver, number, published):
    target = outbound_to_customer(number, status=Status.DELIVERED)
    deliver(load_fixture("reaction.json"))
    reaction = Reaction.objects.get()
    assert (reaction.message, reaction.emoji, reaction.reactor) == (target, "\U0001F44D", CUSTOMER)
    assert Message.objects.count() == 1  # a reaction is not a message of its own
    assert [e[0] for e in published] == ["message.updated"]
    assert published[0][1]["reactions"][0]["emoji"] == "\U0001F44D"
    changed = load_fixture("reaction.json")
    item = changed["entry"][0]["changes"][0]["value"]["messages"][0]
    item.update(id="wamid.REACTION_CHANGED", timestamp="1718200050")
    item["reaction"]["emoji"] = "❤️"
    deliver(changed)
    assert Reaction.objects.get().emoji == "❤️"
    deliver(load_fixture("reaction_removed.json"))
    assert Reaction.objects.count() == 0


def test_reaction_before_its_message_is_linked_when_it_arrives(deliver, number):
    payload = load_fixture("reaction.json")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = "wamid.LATER"
    deliver(payload)
    assert Reaction.objects.get().message is None
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", wamid="wamid.LATER", from_=CUSTOMER, body="here I am")])))
    assert Reaction.objects.get().message == Message.objects.get(wamid="wamid.LATER")


def _original(deliver, number, body="Texto com erro"):
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", wamid="wamid.ORIGINAL_0001", from_=CUSTOMER, body=body, timestamp=1718200000)])))
    return Message.objects.get(wamid="wamid.ORIGINAL_0001")


def test_edit_updates_the_original_and_keeps_history(deliver, number, published):
    original = _original(deliver, number)
    published.clear()
    deliver(load_fixture("edit.json"))
    deliver(load_fixture("edit.json"))  # twice: one history entry
    original.refresh_from_db()
    assert (original.text, original.content) == ("Texto corrigido", {"body": "Texto corrigido"})
    assert original.edited_at.timestamp() == 1718200200
    assert len(original.edit_history) == 1
    assert original.edit_history[0]["content"] == {"body": "Texto com erro"}
    assert original.edit_history[0]["text"] == "Texto com erro"
    assert Message.objects.count() == 1
    assert [e[0] for e in published] == ["message.updated"]


@pytest.mark.parametrize("keep", [False, True])
def test_revoke_marks_deleted_and_clears_content_unless_kept(deliver, number, published, keep):
    number.organization.keep_revoked_content = keep
    number.organization.save()
    original = _original(deliver, number, body="segredo")
    published.clear()
    deliver(load_fixture("revoke.json"))
    deliver(load_fixture("revoke.json"))
    original.refresh_from_db()
    assert original.status == Status.DELETED
    assert original.deleted_at.timestamp() == 1718200300
    if keep:
        assert (original.text, original.content) == ("segredo", {"body": "segredo"})
    else:
        assert (original.text, original.content) == ("", {})
    assert [e[0] for e in published] == ["message.updated"]


# --- Statuses -------------------------------------------------------------------------------


def test_unknown_number_is_stored_unrouted_and_acknowledged(deliver, settings):
    settings.META_APP_SECRET = "test-app-secret"
    response = deliver(load_fixture("text.json"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.number) == (WebhookEvent.Status.UNROUTED, None)
    assert "106540352242922" in event.reason
    assert Message.objects.count() == 0


def test_batched_entries_route_each_number(deliver, number):
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    other = WhatsAppNumberFactory(phone_number_id="106540352242923")
    outbound_to_customer(number, status=Status.SENT)
    deliver(load_fixture("batched_entries.json"))
    assert list(Message.objects.filter(direction="in").order_by("timestamp").values_list("text", "number")) == [
        ("lote 1", number.id), ("lote 2", number.id), ("outro número", other.id)]
    assert Message.objects.get(wamid="wamid.OUTBOUND_TEXT_0001").status == Status.DELIVERED
    assert Contact.objects.filter(wa_id=CUSTOMER).count() == 2  # one per organisation


def test_a_failing_item_does_not_lose_the_others(deliver, number, monkeypatch, run_on_commit):
    from apps.inbound import services
    from apps.messaging.services import inbound

    real = inbound.message_content

    def flaky(kind, content, raw):
        if content.get("body") == "segunda":
            raise RuntimeError("boom")
        return real(kind, content, raw)

    monkeypatch.setattr(inbound, "message_content", flaky)
    response = deliver(load_fixture("several_messages.json"))
    assert response.status_code == 200
    assert sorted(Message.objects.values_list("type", flat=True)) == ["image", "text"]
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == (WebhookEvent.Status.FAILED, 1)
    assert event.error == "entry[0].changes[0].messages[1]: RuntimeError: boom"
    # The retry, once the cause is gone, completes the batch without duplicating the rest.
    monkeypatch.setattr(inbound, "message_content", real)
    run_on_commit(services.webhook_event_process, event_id=event.id)
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (WebhookEvent.Status.PROCESSED, 2, "")
    assert Message.objects.count() == 3
    assert Conversation.objects.get().unread_count == 3


def test_the_last_attempt_makes_a_dead_letter(deliver, number, monkeypatch, run_on_commit):
    from apps.inbound import services
    from apps.messaging.services import inbound

    monkeypatch.setattr(inbound, "message_content", lambda *a: (_ for _ in ()).throw(RuntimeError("always")))
    deliver(load_fixture("text.json"))
    event = WebhookEvent.objects.get()
    for _ in range(services.MAX_ATTEMPTS - 1):
        run_on_commit(services.webhook_event_process, event_id=event.id)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.DEAD, services.MAX_ATTEMPTS)
    run_on_commit(services.webhook_event_process, event_id=event.id)  # a dead letter waits for a replay
    event.refresh_from_db()
    assert event.attempts == services.MAX_ATTEMPTS


def test_retry_delay_grows_exponentially():
    from apps.inbound.services import retry_delay

    assert [retry_delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]


# --- Opt-out keywords, preferences --------------------------------------------------------------


@pytest.mark.parametrize("policy, conversations", [("reopen", 1), ("new", 2)])
def test_message_to_a_resolved_conversation(deliver, number, policy, conversations, published):
    number.organization.on_message_to_resolved = policy
    number.organization.save()
    deliver(load_fixture("text.json"))
    Conversation.objects.update(status=Conversation.Status.RESOLVED)
    published.clear()
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", from_=CUSTOMER, body="de novo")])))
    assert Conversation.objects.count() == conversations
    latest = Message.objects.get(text="de novo").conversation
    assert latest.status == Conversation.Status.OPEN
    expected = "conversation.updated" if policy == "reopen" else "conversation.created"
    assert [e[0] for e in published] == ["message.created", expected]


def test_payload_body_is_kept_verbatim(deliver, number):
    payload = load_fixture("text.json")
    deliver(payload)
    assert json.loads(bytes(WebhookEvent.objects.get().body)) == payload


MESSAGE_FIXTURES = [
    "text.json", "image.json", "video.json", "audio.json", "audio_voice.json", "document.json", "sticker.json",
    "location.json", "contacts.json", "interactive_button_reply.json", "interactive_list_reply.json",
    "interactive_nfm_reply.json", "button.json", "order.json", "system.json", "referral.json", "forwarded.json",
    "message_with_errors.json", "request_welcome.json", "unsupported.json", "unknown_type.json",
    "several_messages.json", "reply_context.json",
]


def test_each_new_message_event_is_what_the_serializer_gives_for_the_stored_row(deliver, number, published):
    # The batch builds message.created from the row it wrote, without reading it back;
    # every type (with media, reply context, referral, errors, a reaction that came
    # first) must reach the browser exactly as the REST API shows the stored message.
    from django.core.serializers.json import DjangoJSONEncoder

    from apps.messaging.serializers import MessageSerializer

    early = load_fixture("reaction.json")
    early["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = "wamid.LATER"
    deliver(early)
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", wamid="wamid.LATER", from_=CUSTOMER, body="here I am")])))
    for fixture in MESSAGE_FIXTURES:
        deliver(load_fixture(fixture))
    created = [data for event, data, _ in published if event == "message.created"]
    assert len(created) == Message.objects.count() >= len(MESSAGE_FIXTURES) + 1
    rows = {m.pk: m for m in Message.objects.select_related("author", "media").prefetch_related("reactions")}
    plain = lambda data: json.loads(json.dumps(data, cls=DjangoJSONEncoder))  # noqa: E731
    for data in created:
        assert data == plain(MessageSerializer(rows[data["id"]]).data)
    assert {data["wamid"]: len(data["reactions"]) for data in created}["wamid.LATER"] == 1
    assert sum(1 for data in created if data["media"]) == Media.objects.count() >= 6


def test_each_conversation_event_of_a_batch_is_what_the_serializer_gives_for_the_stored_row(deliver, number,
                                                                                            published):
    # The batch builds conversation.created/updated from the rows its UPDATE returned
    # (on PostgreSQL), not from a read-back: assignee, team, labels, a snoozed
    # conversation it wakes, a contact who opts out by keyword, a new customer, all
    # as the REST API shows the stored conversation.
    from datetime import timedelta

    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils import timezone

    from apps.accounts.tests.factories import TeamFactory, UserFactory
    from apps.conversations.serializers import ConversationSerializer
    from apps.conversations.tests.factories import (
        ContactFactory,
        ConversationFactory,
        LabelFactory,
    )

    org = number.organization
    org.opt_out_keywords = ["STOP"]
    org.save()
    agent = UserFactory(organization=org, display_name="Agent Ana")
    team = TeamFactory(organization=org)
    assigned = ConversationFactory(organization=org, number=number, assignee=agent, team=team, priority=3,
                                   unread_count=2, contact=ContactFactory(organization=org, wa_id="5511900000001"))
    assigned.labels.set([LabelFactory(organization=org, name="vip", color="#ff0000"),
                         LabelFactory(organization=org, name="billing")])
    snoozed = ConversationFactory(organization=org, number=number, status=Conversation.Status.SNOOZED,
                                  snoozed_until=timezone.now() + timedelta(hours=2), team=team,
                                  contact=ContactFactory(organization=org, wa_id="5511900000002"))
    plain_agent = UserFactory(organization=org, display_name="", first_name="Bia", last_name="Lima")
    leaving = ConversationFactory(organization=org, number=number, assignee=plain_agent,
                                  contact=ContactFactory(organization=org, wa_id="5511900000003"))
    published.clear()
    later = int(timezone.now().timestamp()) + 60
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", wamid="wamid.B1", from_="5511900000001", body="hello", timestamp=later),
        message("text", wamid="wamid.B2", from_="5511900000002", body="wake up"),
        message("text", wamid="wamid.B3", from_="5511900000003", body="stop"),
        message("text", wamid="wamid.B4", from_="5511900000004", body="I am new"),
        message("text", wamid="wamid.B5", from_="5511900000001", body="again", timestamp=later + 1),
    ])))
    events = [(event, data) for event, data, _ in published if event.startswith("conversation.")]
    assert sorted(event for event, _ in events) == ["conversation.created"] + ["conversation.updated"] * 3
    rows = {c.pk: c for c in Conversation.objects.select_related("contact", "assignee").prefetch_related("labels")}
    plain = lambda data: json.loads(json.dumps(data, cls=DjangoJSONEncoder))  # noqa: E731
    for _event, data in events:
        assert data == plain(ConversationSerializer(rows[data["id"]]).data)
    shown = {data["id"]: data for _, data in events}
    assert shown[assigned.pk]["assignee_name"] == "Agent Ana"
    assert [label["name"] for label in shown[assigned.pk]["labels"]] == ["billing", "vip"]
    assert shown[assigned.pk]["unread_count"] == 4 and shown[assigned.pk]["last_message_preview"] == "again"
    assert shown[snoozed.pk]["status"] == "open" and shown[snoozed.pk]["snoozed_until"] is None
    assert shown[leaving.pk]["contact"]["opted_out"] is True
    assert shown[leaving.pk]["assignee_name"] == "Bia Lima"
