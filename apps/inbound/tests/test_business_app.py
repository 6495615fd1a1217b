"""End to end, the WhatsApp Business app on the same number (coexistence): signed POST
of Meta's recorded payloads → drain → rows and live events. Echoes are the
business's own messages and open no window; imported history keeps its times and
triggers nothing; the address book names contacts."""

from datetime import UTC, datetime

import pytest

from apps.conversations.models import AuditLogEntry, Contact, Conversation
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.media.models import Media
from apps.messaging.models import Author, Direction, Message, Status
from apps.whatsapp.tests.conftest import CUSTOMER
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db


def at(seconds):
    return datetime.fromtimestamp(seconds, tz=UTC)


@pytest.fixture(autouse=True)
def bot_calls(monkeypatch, mirrored):
    from apps.bot import services as bot_services

    calls = []
    monkeypatch.setattr(
        bot_services,
        "bot_on_inbound_message",
        lambda *, message: calls.append(message.pk),
    )
    return calls


def test_echoes_show_as_sent_from_the_app_without_opening_the_window(
    deliver, number, published, bot_calls, mirrored
):
    deliver(load_fixture("text.json"))  # the customer wrote at 1718200000
    conversation = Conversation.objects.get()
    assert bot_calls  # a customer's message does reach the bot
    bot_calls.clear()
    published.clear()
    assert deliver(load_fixture("smb_message_echoes.json")).status_code == 200
    text, image = Message.objects.filter(direction=Direction.OUTBOUND).order_by(
        "timestamp"
    )
    assert (text.author_type, text.status, text.type, text.text) == (
        Author.BUSINESS_APP,
        Status.SENT,
        "text",
        "Seu pedido saiu para entrega hoje.",
    )
    assert (text.timestamp, text.sent_at, text.conversation_id, text.imported) == (
        at(1718200100),
        at(1718200100),
        conversation.pk,
        False,
    )
    assert (image.type, image.text) == ("image", "Nota fiscal")
    assert (
        Media.objects.get(message=image).meta_media_id == "1003383421387256"
        and mirrored
    )
    conversation.refresh_from_db()
    assert conversation.last_customer_message_at == at(
        1718200000
    )  # the window did not move
    assert conversation.unread_count == 1
    assert (conversation.last_message_at, conversation.last_message_preview) == (
        at(1718200105),
        "Nota fiscal",
    )
    assert [(e[0], e[1].get("direction")) for e in published] == [
        ("message.created", "out"),
        ("message.created", "out"),
        ("conversation.updated", None),
    ]
    assert published[0][1]["author_type"] == "business_app"
    assert bot_calls == []
    assert WebhookEvent.objects.latest("pk").status == WebhookEvent.Status.PROCESSED

    published.clear()
    deliver(load_fixture("smb_message_echoes.json"))  # Meta's redelivery
    assert Message.objects.count() == 3 and published == []


def test_an_echo_to_a_new_customer_opens_a_conversation_with_the_window_closed(
    deliver, number
):
    deliver(load_fixture("smb_message_echoes.json"))
    conversation = Conversation.objects.get()
    assert conversation.contact.wa_id == CUSTOMER
    assert (
        conversation.status,
        conversation.unread_count,
        conversation.last_customer_message_at,
    ) == ("open", 0, None)
    assert not conversation.window_open()


def test_history_keeps_its_times_and_triggers_nothing(
    deliver, number, published, bot_calls
):
    deliver(load_fixture("history.json"))
    messages = list(Message.objects.order_by("timestamp"))
    assert [(m.direction, m.author_type, m.status, m.imported) for m in messages] == [
        ("in", "customer", "received", True),
        ("out", "business_app", "read", True),
        ("in", "customer", "received", True),
    ]
    assert [m.timestamp for m in messages] == [
        at(1717000000),
        at(1717000300),
        at(1717000600),
    ]
    assert messages[1].read_at == at(1717000300)
    conversation = Conversation.objects.get()
    assert (
        conversation.status,
        conversation.unread_count,
        conversation.last_customer_message_at,
    ) == ("resolved", 0, None)
    assert (conversation.last_message_at, conversation.last_message_preview) == (
        at(1717000600),
        "Obrigada!",
    )
    assert (
        AuditLogEntry.objects.filter(
            conversation=conversation, action="conversation.imported"
        ).count()
        == 1
    )
    assert [e[0] for e in published] == [
        "conversation.created"
    ]  # no message event: nothing notifies
    assert bot_calls == []

    published.clear()
    deliver(load_fixture("history.json"))
    assert (
        Message.objects.count() == 3
        and Conversation.objects.count() == 1
        and published == []
    )


def test_history_lands_in_the_active_conversation_without_moving_it(
    deliver, number, published
):
    deliver(load_fixture("text.json"))
    conversation = Conversation.objects.get()
    published.clear()
    deliver(load_fixture("history.json"))
    assert Message.objects.filter(conversation=conversation).count() == 4
    conversation.refresh_from_db()
    assert (conversation.status, conversation.unread_count) == ("open", 1)
    assert (
        conversation.last_message_at
        == conversation.last_customer_message_at
        == at(1718200000)
    )
    assert conversation.last_message_preview == "Olá! Quero saber do meu pedido."
    assert [e[0] for e in published] == ["conversation.updated"]


def test_a_live_message_after_history_reopens_the_imported_conversation(
    deliver, number, bot_calls
):
    number.organization.on_message_to_resolved = "reopen"
    number.organization.save(update_fields=["on_message_to_resolved"])
    deliver(load_fixture("history.json"))
    deliver(load_fixture("text.json"))
    conversation = Conversation.objects.get()
    assert (
        conversation.status == "open"
        and Message.objects.filter(conversation=conversation).count() == 4
    )
    assert (conversation.unread_count, conversation.last_customer_message_at) == (
        1,
        at(1718200000),
    )
    assert len(bot_calls) == 1  # the live message only


def test_history_declined_is_kept_as_an_account_notice(deliver, number):
    deliver(load_fixture("history_declined.json"))
    notice = AccountEvent.objects.get()
    assert (notice.field, notice.event, notice.number_id) == (
        "errors",
        "2593109",
        number.pk,
    )
    assert Message.objects.count() == 0


def test_the_address_book_names_contacts_and_a_removal_keeps_the_conversation(
    deliver, number, published
):
    deliver(load_fixture("text.json"))
    joao = Contact.objects.create(
        organization=number.organization, wa_id="5521998887777", name="João Pereira"
    )
    kept = Conversation.objects.create(
        organization=number.organization, contact=joao, number=number
    )
    published.clear()
    deliver(load_fixture("smb_app_state_sync.json"))
    maria = Contact.objects.get(wa_id=CUSTOMER)
    joao.refresh_from_db()
    assert (maria.name, maria.profile_name, maria.display_name) == (
        "Maria Souza (Loja Centro)",
        "Maria Souza",
        "Maria Souza (Loja Centro)",
    )
    assert joao.name == "" and Conversation.objects.filter(pk=kept.pk).exists()
    assert sorted(e[1]["id"] for e in published if e[0] == "contact.updated") == sorted(
        [maria.pk, joao.pk]
    )
    assert AuditLogEntry.objects.filter(action="contact.address_book").count() == 2

    published.clear()
    deliver(load_fixture("smb_app_state_sync.json"))
    assert (
        published == []
        and AuditLogEntry.objects.filter(action="contact.address_book").count() == 2
    )


def test_an_address_book_entry_removed_keeps_a_name_an_agent_gave(deliver, number):
    Contact.objects.create(
        organization=number.organization, wa_id="5521998887777", name="João (VIP)"
    )
    deliver(load_fixture("smb_app_state_sync.json"))
    assert Contact.objects.get(wa_id="5521998887777").name == "João (VIP)"
