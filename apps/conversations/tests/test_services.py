"""Contacts and conversations use-cases."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import AuditLogEntry, Contact, Conversation
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def at(ts):
    return datetime.fromtimestamp(ts, tz=UTC)


def test_contact_get_or_create_refreshes_the_profile_name():
    number = WhatsAppNumberFactory()
    first = services.contact_get_or_create(organization=number.organization, wa_id="551100", profile_name="Ana")
    again = services.contact_get_or_create(organization=number.organization, wa_id="551100", profile_name="Ana B")
    assert first.pk == again.pk
    assert Contact.objects.get().profile_name == "Ana B"


def test_conversation_for_inbound_existing_created():
    number = WhatsAppNumberFactory()
    contact = ContactFactory(organization=number.organization)
    conversation, how = services.conversation_for_inbound(contact=contact, number=number)
    assert how == "created"
    assert services.conversation_for_inbound(contact=contact, number=number) == (conversation, "existing")


def test_resolved_conversation_is_reopened_with_an_audit_entry():
    conversation = ConversationFactory(status=Conversation.Status.RESOLVED, resolved_at=timezone.now())
    same, how = services.conversation_for_inbound(contact=conversation.contact, number=conversation.number)
    assert (same.pk, how, same.status, same.resolved_at) == (conversation.pk, "reopened", "open", None)
    assert AuditLogEntry.objects.get().action == "conversation.reopened"


def test_resolved_conversation_policy_new():
    conversation = ConversationFactory(status=Conversation.Status.RESOLVED)
    conversation.organization.on_message_to_resolved = "new"
    conversation.organization.save()
    contact = Contact.objects.get(pk=conversation.contact_id)
    new, how = services.conversation_for_inbound(contact=contact, number=conversation.number)
    assert how == "created" and new.pk != conversation.pk
    assert Conversation.objects.get(pk=conversation.pk).status == "resolved"


def test_record_inbound_counts_and_keeps_the_newest():
    conversation = ConversationFactory(last_message_at=None, last_customer_message_at=None, unread_count=0)
    services.conversation_record_inbound(conversation=conversation, timestamp=at(200), preview="newer")
    services.conversation_record_inbound(conversation=conversation, timestamp=at(100), preview="older")
    conversation.refresh_from_db()
    assert (conversation.unread_count, conversation.last_message_at, conversation.last_message_preview,
            conversation.last_customer_message_at) == (2, at(200), "newer", at(200))


@pytest.mark.parametrize(
    "text, expected",
    [("STOP", "out"), (" stop. ", "out"), ("Sáir", "out"), ("remover", "out"), ("PARAR", "out"),
     ("start", "in"), ("Voltar", "in"), ("stop now", None), ("", None), ("stopp", None)],
)
def test_opt_keyword_match(text, expected):
    organization = WhatsAppNumberFactory().organization
    assert services.opt_keyword_match(organization=organization, text=text) == expected


def test_custom_keywords():
    organization = WhatsAppNumberFactory().organization
    organization.opt_out_keywords = ["BASTA"]
    organization.opt_in_keywords = ["OTRA VEZ"]
    assert services.opt_keyword_match(organization=organization, text="basta") == "out"
    assert services.opt_keyword_match(organization=organization, text="STOP") is None
    assert services.opt_keyword_match(organization=organization, text="otra  vez") == "in"


def test_opt_out_and_in_are_audited_once():
    contact = ContactFactory()
    assert services.contact_opt_out(contact=contact, reason="keyword: STOP", at=at(100)) is True
    assert services.contact_opt_out(contact=contact, reason="keyword: STOP", at=at(200)) is False
    contact.refresh_from_db()
    assert (contact.opted_out, contact.opted_out_at, contact.opt_out_reason) == (True, at(100), "keyword: STOP")
    assert services.contact_opt_in(contact=contact, reason="keyword: START") is True
    assert services.contact_opt_in(contact=contact, reason="keyword: START") is False
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "contact.opted_out", "contact.opted_in"]


def test_marketing_preference_newest_wins():
    contact = ContactFactory()
    org = contact.organization
    services.contact_marketing_preference_set(organization=org, wa_id=contact.wa_id, opted_out=True, at=at(200))
    services.contact_marketing_preference_set(organization=org, wa_id=contact.wa_id, opted_out=False, at=at(100))
    contact.refresh_from_db()
    assert (contact.marketing_opted_out, contact.marketing_opted_out_at) == (True, at(200))
    services.contact_marketing_preference_set(organization=org, wa_id=contact.wa_id, opted_out=True, at=at(200))
    assert AuditLogEntry.objects.count() == 1
    services.contact_marketing_preference_set(organization=org, wa_id=contact.wa_id, opted_out=False, at=at(300))
    contact.refresh_from_db()
    assert contact.marketing_opted_out is False


def test_marketing_preference_of_an_unknown_customer_creates_the_contact():
    organization = WhatsAppNumberFactory().organization
    contact = services.contact_marketing_preference_set(organization=organization, wa_id="551177", opted_out=True,
                                                        at=at(100))
    assert (contact.wa_id, contact.marketing_opted_out) == ("551177", True)
