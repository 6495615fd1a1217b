"""WhatsApp's own id for a contact, and two contacts of one customer made one: nothing
of either is lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import AuditLogEntry, Contact, Conversation, Note
from apps.conversations.services import contact_wa_id_confirm
from apps.conversations.tests.factories import ContactFactory, ConversationFactory, LabelFactory, NoteFactory
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def test_a_wa_id_nobody_holds_becomes_the_contacts(published, django_capture_on_commit_callbacks):
    contact = ContactFactory(wa_id="5511987654321", phone="+55 11 98765-4321")
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = contact_wa_id_confirm(contact_id=contact.pk, wa_id="551187654321", source="send answer")
    contact.refresh_from_db()
    assert confirmed == contact
    assert (contact.wa_id, contact.phone) == ("551187654321", "+55 11 98765-4321")  # the typed phone stays
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.data) == ("contact.wa_id_confirmed", {
        "contact_id": contact.pk, "wa_id": "551187654321", "previous_wa_id": "5511987654321",
        "source": "send answer"})
    assert [e for e, data, _ in published if data.get("id") == contact.pk] == ["contact.updated"]
    # The same answer again changes nothing.
    contact_wa_id_confirm(contact_id=contact.pk, wa_id="551187654321", source="send answer")
    assert AuditLogEntry.objects.count() == 1


def test_the_contact_of_another_form_is_merged_into_the_one_whatsapp_names(published,
                                                                           django_capture_on_commit_callbacks):
    number = WhatsAppNumberFactory()
    organization = number.organization
    other_number = WhatsAppNumberFactory(organization=organization)
    now = timezone.now()
    # The customer wrote from WhatsApp's id (the survivor) and was also typed in by hand.
    survivor = ContactFactory(organization=organization, wa_id="551187654321", name="",
                              attributes={"city": "São Paulo"})
    typed = ContactFactory(organization=organization, wa_id="5511987654321", name="Ana (typed)",
                           attributes={"city": "SP", "order": "42"}, user_id="BR.1502576394655843",
                           opted_out=True, opt_out_reason="asked by phone")
    kept = ConversationFactory(organization=organization, contact=survivor, number=number, unread_count=2,
                               last_message_at=now - timedelta(hours=1), last_message_preview="older",
                               last_customer_message_at=now - timedelta(hours=1))
    folded = ConversationFactory(organization=organization, contact=typed, number=number, unread_count=1,
                                 last_message_at=now, last_message_preview="newest",
                                 last_customer_message_at=now - timedelta(minutes=5))
    elsewhere = ConversationFactory(organization=organization, contact=typed, number=other_number)
    history = ConversationFactory(organization=organization, contact=typed, number=number,
                                  status=Conversation.Status.RESOLVED)
    label = LabelFactory(organization=organization)
    folded.labels.add(label)
    theirs = [MessageFactory(conversation=folded), OutboundMessageFactory(conversation=folded)]
    note = NoteFactory(conversation=folded)
    ours = MessageFactory(conversation=kept)

    with django_capture_on_commit_callbacks(execute=True):
        result = contact_wa_id_confirm(contact_id=typed.pk, wa_id="551187654321",
                                       source="send answer of message 7")

    assert result.pk == survivor.pk
    assert not Contact.objects.filter(pk=typed.pk).exists()
    survivor.refresh_from_db()
    # What the survivor lacked is taken over; what it has stays; the stricter opt-out wins.
    assert (survivor.wa_id, survivor.name, survivor.user_id) == ("551187654321", "Ana (typed)", "BR.1502576394655843")
    assert survivor.attributes == {"city": "São Paulo", "order": "42"}
    assert (survivor.opted_out, survivor.opt_out_reason) == (True, "asked by phone")
    # Every conversation now belongs to the survivor; the open one on the same number
    # is folded into the survivor's open one, and its messages, note and label with it.
    assert set(Conversation.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    assert set(Message_ids(kept)) == {ours.pk, *(m.pk for m in theirs)}
    assert Note.objects.get(pk=note.pk).conversation_id == kept.pk
    kept.refresh_from_db()
    folded.refresh_from_db()
    assert list(kept.labels.all()) == [label]
    assert (kept.unread_count, kept.last_message_preview, kept.last_message_at) == (3, "newest", now)
    assert kept.last_customer_message_at == now - timedelta(minutes=5)
    assert (folded.status, folded.unread_count, Message_ids(folded)) == (Conversation.Status.RESOLVED, 0, [])
    elsewhere.refresh_from_db()
    history.refresh_from_db()
    assert elsewhere.status == Conversation.Status.OPEN  # another number: it simply moves
    assert history.status == Conversation.Status.RESOLVED
    merged = AuditLogEntry.objects.get(action="contact.merged")
    assert merged.data == {
        "contact_id": survivor.pk, "merged_contact_id": typed.pk,
        "merged": {"wa_id": "5511987654321", "user_id": "BR.1502576394655843"},
        "conversations": sorted([folded.pk, elsewhere.pk, history.pk]), "folded": [[folded.pk, kept.pk]],
        "fields": ["attributes", "name", "opt_out_reason", "opted_out", "opted_out_at", "parent_user_id", "user_id"],
        "reason": "send answer of message 7"}
    assert sorted(AuditLogEntry.objects.filter(action__startswith="conversation.merged").values_list(
        "action", "conversation_id", "data"), key=lambda row: row[0]) == [
        ("conversation.merged", kept.pk, {"conversation_id": folded.pk}),
        ("conversation.merged_into", folded.pk, {"conversation_id": kept.pk})]
    updated = {data["id"]: data for event, data, _ in published if event == "conversation.updated"}
    assert updated[kept.pk]["unread_count"] == 3 and updated[folded.pk]["status"] == "resolved"
    assert updated[elsewhere.pk]["contact"]["id"] == survivor.pk


def Message_ids(conversation):
    return sorted(conversation.messages.values_list("pk", flat=True))


def test_contacts_of_two_organisations_are_never_merged():
    mine = ContactFactory(wa_id="5511987654321")
    ContactFactory(wa_id="551187654321")  # another organisation's
    contact_wa_id_confirm(contact_id=mine.pk, wa_id="551187654321", source="send answer")
    mine.refresh_from_db()
    assert mine.wa_id == "551187654321" and Contact.objects.count() == 2
