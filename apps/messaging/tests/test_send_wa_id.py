"""Meta's answer to a send names the customer's WhatsApp id, which can differ from the
number sent to (Brazil's ninth digit, Mexico's 521): it becomes the contact's, so the
customer's reply lands in the same conversation; typed numbers find their contact in
any form; statuses give the customer's user id. Against the simulator, which answers
as Meta documents (apps/simulator/accounts.py)."""

import copy
import json
from pathlib import Path

import pytest

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.models import AuditLogEntry, Contact, Conversation
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.notifications.models import Notification
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message, Status
from apps.messaging.sending.outcome import answer_wa_id, answer_wamid
from apps.messaging.services.send import message_send, message_send_to_phone
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.conftest import deliver  # noqa: F401
from apps.whatsapp.tests.utils import envelope, load_fixture, message, messages_change

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_answer_names_the_customers_whatsapp_id():
    # Meta's answer to a send to "+52 55 1234 5678": the WhatsApp id is 521 + ten digits.
    answer = json.loads((Path(__file__).parent / "fixtures" / "send_answer_other_wa_id.json").read_text())
    assert (answer_wamid(answer), answer_wa_id(answer)) == (answer["messages"][0]["id"], "5215512345678")
    assert answer_wa_id({"messages": [{"id": "x"}]}) == answer_wa_id({"contacts": [{"input": "x"}]}) == ""


def reply_from(number, wa_id, body="Sim, recebi"):
    return envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", from_=wa_id, body=body)]))


def test_a_mexican_number_gets_whatsapps_521_and_the_reply_lands_in_the_same_conversation(simulator, deliver):
    conversation = ConversationFactory(contact__wa_id="525512345678", contact__phone="+52 55 1234 5678")
    sent = message_send(conversation=conversation, kind="text", payload={"body": "Hola"})
    sent.refresh_from_db()
    assert sent.status == Status.SENT
    contact = Contact.objects.get()
    assert contact.wa_id == "5215512345678"
    assert AuditLogEntry.objects.filter(action="contact.wa_id_confirmed").count() == 1

    deliver(reply_from(conversation.number, "5215512345678"))
    assert Contact.objects.count() == 1 and Conversation.objects.count() == 1
    assert Message.objects.filter(direction="in", conversation=conversation).count() == 1


def test_two_contacts_of_one_brazilian_customer_are_merged_by_the_answer(simulator):
    # The customer wrote from an account older than the ninth digit; an agent also
    # had the number typed with it. Sending from that second contact merges the two.
    conversation = ConversationFactory(contact__wa_id="551187654321")
    number, organization = conversation.number, conversation.organization
    SimulatedMessage.objects.create(phone_number_id=number.phone_number_id, customer="551187654321",
                                    direction=SimulatedMessage.Direction.FROM_CUSTOMER, wamid="wamid.IN1",
                                    type="text", payload={})
    typed = ConversationFactory(organization=organization, number=number,
                                contact=ContactFactory(organization=organization, wa_id="5511987654321"))
    sent = message_send(conversation=typed, kind="text", payload={"body": "Olá"})
    assert SimulatedMessage.objects.get(wamid=Message.objects.get(pk=sent.pk).wamid).customer == "5511987654321"
    assert list(Contact.objects.values_list("wa_id", flat=True)) == ["551187654321"]
    sent.refresh_from_db()
    assert (sent.status, sent.conversation_id) == (Status.SENT, conversation.pk)
    assert Conversation.objects.get(pk=typed.pk).status == Conversation.Status.RESOLVED
    assert AuditLogEntry.objects.get(action="contact.merged").data["folded"] == [[typed.pk, conversation.pk]]


@pytest.mark.parametrize("typed", ["+52 55 1234 5678", "+52 1 55 1234 5678", "5215512345678"])
def test_a_typed_mexican_number_finds_the_one_contact(simulator, typed):
    conversation = ConversationFactory(contact__wa_id="5215512345678")  # the customer wrote: the window is open
    message_send_to_phone(organization=conversation.organization, number=conversation.number, to=typed,
                          kind="text", payload={"body": "Hola"})
    assert Contact.objects.filter(organization=conversation.organization).count() == 1
    assert Message.objects.get(direction="out").conversation_id == conversation.pk


def test_a_typed_brazilian_number_finds_the_contact_without_the_ninth_digit(simulator):
    conversation = ConversationFactory(contact__wa_id="551187654321")
    message_send_to_phone(organization=conversation.organization, number=conversation.number,
                          to="+55 (11) 98765-4321", kind="text", payload={"body": "Olá"})
    assert Contact.objects.filter(organization=conversation.organization).count() == 1
    assert Message.objects.get(direction="out").conversation_id == conversation.pk
    assert SimulatedMessage.objects.get().payload["to"] == "551187654321"


def test_a_new_typed_number_is_stored_normalised(simulator):
    number = ConversationFactory().number
    template = MessageTemplateFactory(organization=number.organization, waba_id=number.waba_id)
    message_send_to_phone(organization=number.organization, number=number, to="+55 11 8765-4321",
                          kind="template", payload={"name": template.name, "language": template.language,
                                                    "body": ["Ann", "7"]})
    assert Contact.objects.get(organization=number.organization, wa_id="5511987654321")


def test_a_notification_to_another_form_of_the_number_uses_the_contacts_fields(simulator):
    admin = AdminFactory()
    number = ConversationFactory(organization=admin.organization).number
    contact = ContactFactory(organization=admin.organization, wa_id="5215512345678", name="Lupita")
    template = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id)
    from apps.notifications.models import NotificationRule
    from apps.notifications.services import notification_send

    NotificationRule.objects.create(organization=admin.organization, event_type="order_shipped", number=number,
                                    template=template, parameter_mapping={"body.1": "contact.name",
                                                                          "body.2": "event.order"})
    notification, created = notification_send(organization=admin.organization, user=admin,
                                              event_type="order_shipped", phone="+52 55 1234 5678",
                                              idempotency_key="k1", fields={"order": "7"})
    assert (created, notification.status, notification.phone) == (True, Notification.Status.ACCEPTED,
                                                                   "5215512345678")
    assert notification.message.conversation.contact_id == contact.pk
    assert notification.message.text == "Hello Lupita, your order 7 has shipped."


def test_an_inbound_message_finds_the_contact_typed_with_the_ninth_digit(deliver, simulator):
    conversation = ConversationFactory(contact__wa_id="5511987654321")
    OutboundMessageFactory(conversation=conversation)  # typed by an agent, never sent
    deliver(reply_from(conversation.number, "551187654321"))
    contact = Contact.objects.get()
    assert contact.wa_id == "551187654321"
    assert Conversation.objects.get().pk == conversation.pk
    assert Message.objects.filter(direction="in").get().conversation_id == conversation.pk


def test_a_status_gives_the_contact_its_user_id(deliver, simulator):
    conversation = ConversationFactory(contact__wa_id="5511987654321", number__phone_number_id="106540352242922",
                                       number__waba_id="102290129340398")
    OutboundMessageFactory(conversation=conversation, wamid="wamid.OUTBOUND_TEXT_0001", status=Status.SENT)
    deliver(load_fixture("status_with_user_id.json"))
    contact = Contact.objects.get()
    assert (contact.user_id, contact.parent_user_id) == ("BR.1502576394655843", "BR.ENT.11815799212886844830")
    assert Message.objects.get().status == Status.DELIVERED


def test_a_status_never_moves_a_user_id_another_contact_holds(deliver, simulator):
    conversation = ConversationFactory(contact__wa_id="5511987654321", number__phone_number_id="106540352242922",
                                       number__waba_id="102290129340398")
    holder = ContactFactory(organization=conversation.organization, wa_id="", user_id="BR.1502576394655843")
    OutboundMessageFactory(conversation=conversation, wamid="wamid.OUTBOUND_TEXT_0001", status=Status.SENT)
    payload = copy.deepcopy(load_fixture("status_with_user_id.json"))
    del payload["entry"][0]["changes"][0]["value"]["contacts"]
    deliver(payload)
    assert Contact.objects.get(pk=conversation.contact_id).user_id == ""
    assert Contact.objects.get(pk=holder.pk).user_id == "BR.1502576394655843"
