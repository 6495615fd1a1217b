"""Customers known by Meta's business-scoped user id (a WhatsApp username hides the
phone): their messages are stored, the contact is keyed on the user id, and the phone
and user id of one customer meet on one contact (fixtures written from Meta's
documented payloads)."""

import copy

import pytest

from apps.conversations.models import Contact, Conversation
from apps.conversations.tests.factories import ContactFactory
from apps.messaging.models import Message
from apps.inbound.models import WebhookEvent
from apps.whatsapp.tests.conftest import deliver, number  # noqa: F401
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db

USER_ID = "US.13491208655302741918"


def for_number(name, number, **message_changes):
    payload = copy.deepcopy(load_fixture(name))
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = number.phone_number_id
    value["messages"][0].update(message_changes)
    return payload


def test_a_message_without_from_is_stored_on_a_contact_keyed_on_the_user_id(deliver, number, published):
    assert deliver(for_number("text_username_only.json", number)).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    message = Message.objects.get()
    assert message.text == "Hi, I hid my number."
    contact = message.conversation.contact
    assert (contact.wa_id, contact.phone, contact.user_id, contact.username) == ("", "", USER_ID, "@janedoe")
    assert contact.display_name == "Jane Doe"
    created = [data for event, data, _ in published if event == "conversation.created"]
    assert created[0]["contact"]["user_id"] == USER_ID and created[0]["contact"]["wa_id"] == ""


def test_the_same_customer_again_lands_in_the_same_conversation(deliver, number):
    deliver(for_number("text_username_only.json", number))
    deliver(for_number("text_username_only.json", number, id="wamid.SECOND", timestamp="1781000050"))
    assert Message.objects.count() == 2
    assert Contact.objects.count() == 1 and Conversation.objects.count() == 1


def test_a_customer_known_by_phone_gets_the_user_id_and_keeps_the_conversation(deliver, number):
    known = ContactFactory(organization=number.organization, wa_id="5511987654321", phone="+5511987654321")
    deliver(for_number("text_with_user_id.json", number))
    known.refresh_from_db()
    assert (known.user_id, known.parent_user_id) == ("BR.1502576394655843", "BR.ENT.11815799212886844830")
    # Later the customer hides the phone: only the user id comes, to the same contact.
    hidden = for_number("text_with_user_id.json", number, id="wamid.HIDDEN", timestamp="1781000200")
    del hidden["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    del hidden["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"]
    deliver(hidden)
    assert Contact.objects.count() == 1
    assert set(Message.objects.values_list("conversation__contact", flat=True)) == {known.pk}
    assert Conversation.objects.count() == 1


def test_a_customer_first_known_by_user_id_gets_the_phone_when_it_comes(deliver, number):
    deliver(for_number("text_username_only.json", number))
    both = for_number("text_username_only.json", number, id="wamid.PHONE", timestamp="1781000300",
                      **{"from": "15550001111"})
    both["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "15550001111"
    deliver(both)
    contact = Contact.objects.get()
    assert (contact.wa_id, contact.phone, contact.user_id) == ("15550001111", "+15550001111", USER_ID)
    assert Message.objects.count() == 2 and Conversation.objects.count() == 1


def test_a_reaction_from_a_user_id_only_customer_reaches_their_own_message(deliver, number):
    deliver(for_number("text_username_only.json", number))
    target = Message.objects.get()
    reaction = for_number("text_username_only.json", number, id="wamid.REACT", timestamp="1781000400",
                          type="reaction", reaction={"message_id": target.wamid, "emoji": "👍"})
    deliver(reaction)
    assert list(target.reactions.values_list("reactor", "emoji")) == [(USER_ID, "👍")]


def test_the_single_path_stores_it_too(number):
    from apps.messaging.services.inbound import message_receive
    from apps.providers.meta.parser import parse_webhook

    (event,) = parse_webhook(for_number("text_username_only.json", number))
    result = message_receive(number=number, event=event)
    assert result.created
    assert result.message.conversation.contact.user_id == USER_ID


def test_the_same_user_id_in_another_organisation_is_another_contact(deliver, number):
    """A business-scoped user id is the organisation's key for a customer: another
    organisation's contact with the same id is never found nor changed."""
    from apps.accounts.tests.factories import OrganizationFactory

    other = ContactFactory(organization=OrganizationFactory(), wa_id="", phone="", user_id=USER_ID, username="@other")
    deliver(for_number("text_username_only.json", number))
    mine = Message.objects.get().conversation.contact
    assert mine.pk != other.pk and mine.organization_id == number.organization_id
    other.refresh_from_db()
    assert (other.username, other.conversations.count()) == ("@other", 0)
