"""A customer's identifiers change (Meta's system messages user_changed_number and
user_changed_user_id, fixtures written from Meta's system-message reference): the
contact takes the new ones and keeps its history, the message stays in the thread as the
record, and a contact that already holds the new identity is joined, not duplicated."""

import copy

import pytest

from apps.conversations.models import AuditLogEntry, Contact, Conversation
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging.models import Message, MessageType
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.conftest import deliver, number  # noqa: F401
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db

OLD, NEW = "5511987654321", "5511911112222"
OLD_USER, NEW_USER = "BR.18A1B2C3D4E5F6OLD", "BR.18A1B2C3D4E5F6NEW"


def for_number(name, number):
    payload = copy.deepcopy(load_fixture(name))
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = number.phone_number_id
    return payload


def test_a_changed_number_moves_the_contact_and_keeps_its_history(deliver, number):
    contact = ContactFactory(organization=number.organization, wa_id=OLD, user_id=OLD_USER, name="Maria")
    conversation = ConversationFactory(organization=number.organization, number=number, contact=contact)
    earlier = MessageFactory(conversation=conversation, text="before the change")

    assert deliver(for_number("system_user_changed_number.json", number)).status_code == 200

    contact.refresh_from_db()
    assert (contact.wa_id, contact.user_id, contact.parent_user_id) == (NEW, NEW_USER, "BR.PARENT18A1B2NEW")
    assert Contact.objects.filter(organization=number.organization).count() == 1
    system = Message.objects.get(type=MessageType.SYSTEM)
    assert system.conversation_id == conversation.pk == earlier.conversation_id
    assert system.content["type"] == "user_changed_number"
    assert AuditLogEntry.objects.filter(action="contact.wa_id_confirmed", data__wa_id=NEW).exists()
    # The customer's next message, from the new number, lands in the same conversation.
    reply = copy.deepcopy(load_fixture("text.json"))
    value = reply["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = number.phone_number_id
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = NEW
    deliver(reply)
    assert Conversation.objects.get().pk == conversation.pk
    assert Message.objects.filter(conversation=conversation).count() == 3


def test_a_changed_number_already_writing_as_a_new_contact_is_joined(deliver, number):
    old = ContactFactory(organization=number.organization, wa_id=OLD, name="Maria")
    ConversationFactory(organization=number.organization, number=number, contact=old)
    new = ContactFactory(organization=number.organization, wa_id=NEW)
    MessageFactory(conversation=ConversationFactory(organization=number.organization, number=number, contact=new))

    deliver(for_number("system_user_changed_number.json", number))

    assert list(Contact.objects.filter(organization=number.organization).values_list("pk", "wa_id")) == [(new.pk, NEW)]
    assert set(Conversation.objects.values_list("contact_id", flat=True)) == {new.pk}
    assert AuditLogEntry.objects.filter(action="contact.merged", data__contact_id=new.pk).exists()


def test_a_changed_user_id_is_taken_by_the_contact_of_the_previous_one(deliver, number):
    contact = ContactFactory(organization=number.organization, wa_id="", phone="", user_id=OLD_USER,
                             username="@maria")
    ConversationFactory(organization=number.organization, number=number, contact=contact)

    assert deliver(for_number("system_user_changed_user_id.json", number)).status_code == 200

    # The delivery names the customer by the new user id: one contact remains, with it.
    contacts = list(Contact.objects.filter(organization=number.organization))
    assert len(contacts) == 1 and contacts[0].user_id == NEW_USER
    assert Message.objects.get(type=MessageType.SYSTEM).conversation.contact_id == contacts[0].pk
    assert Conversation.objects.filter(contact=contacts[0]).count() >= 1


def test_another_organisations_contact_with_the_previous_identity_is_never_touched(deliver, number):
    stranger = ContactFactory(wa_id=NEW, user_id=OLD_USER)
    contact = ContactFactory(organization=number.organization, wa_id=OLD)

    deliver(for_number("system_user_changed_number.json", number))

    stranger.refresh_from_db()
    contact.refresh_from_db()
    assert (stranger.wa_id, stranger.user_id) == (NEW, OLD_USER)
    assert contact.wa_id == NEW and stranger.organization_id != number.organization_id
