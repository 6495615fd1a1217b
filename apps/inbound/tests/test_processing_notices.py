"""End to end: signed POST → 200 → drain (run on commit) → rows and live events.
Opt-out keywords, preferences, template and account notices."""

import pytest

from apps.conversations.models import AuditLogEntry, Contact, Conversation
from apps.messaging.models import Message
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.whatsapp.tests.conftest import CUSTOMER
from apps.whatsapp.tests.utils import envelope, load_fixture, message, messages_change

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_media_download(mirrored):
    """The media app's own tests download files; here only the hand-over is checked."""


def only_message():
    return Message.objects.get()


@pytest.mark.parametrize("text", ["STOP", "  stop ", "Sair", "cancelar!", "PÁRAR", "unsubscribe"])
def test_opt_out_keywords(deliver, number, text):
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", from_=CUSTOMER, body=text)])))
    contact = Contact.objects.get()
    assert contact.opted_out is True
    assert contact.opted_out_at is not None
    assert contact.opt_out_reason == f"keyword: {text.strip()}"
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.conversation) == ("contact.opted_out", Conversation.objects.get())


@pytest.mark.parametrize("text", ["please stop calling", "STOPPED", "stop it"])
def test_opt_out_needs_the_whole_message(deliver, number, text):
    deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        message("text", from_=CUSTOMER, body=text)])))
    assert Contact.objects.get().opted_out is False
    assert AuditLogEntry.objects.count() == 0


def test_opt_in_keyword_clears_the_opt_out(deliver, number):
    for body in ("STOP", "voltar"):
        deliver(envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
            message("text", from_=CUSTOMER, body=body)])))
    contact = Contact.objects.get()
    assert (contact.opted_out, contact.opted_out_at, contact.opt_out_reason) == (False, None, "")
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "contact.opted_out", "contact.opted_in"]


def test_user_preferences_stop_marketing(deliver, number):
    deliver(load_fixture("user_preferences.json"))
    contact = Contact.objects.get()
    assert contact.marketing_opted_out is True
    assert contact.marketing_opted_out_at.timestamp() == 1718200400
    assert contact.opted_out is False


# --- Templates and account notices -----------------------------------------------------------


def test_template_status_update(deliver, number):
    from apps.message_templates.models import MessageTemplate
    from apps.message_templates.tests.factories import MessageTemplateFactory

    template = MessageTemplateFactory(organization=number.organization, meta_id="12345678901",
                                      waba_id=number.waba_id, name="order_shipped", language="pt_BR")
    deliver(load_fixture("template_status_update.json"))
    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == (MessageTemplate.Status.REJECTED, "INCORRECT_CATEGORY")
    assert WebhookEvent.objects.get().organization == number.organization


def test_phone_number_quality_update_is_stored_and_applied(deliver, number):
    deliver(load_fixture("phone_number_quality_update.json"))
    deliver(load_fixture("phone_number_quality_update.json"))  # Meta's redelivery
    notice = AccountEvent.objects.get()
    assert (notice.number, notice.organization, notice.field, notice.event) == (
        number, number.organization, "phone_number_quality_update", "DOWNGRADE")
    assert notice.payload["value"]["current_limit"] == "TIER_250"
    number.refresh_from_db()
    assert number.messaging_limit == "TIER_250"


def test_account_update_is_stored(deliver, number):
    deliver(load_fixture("account_update.json"))
    notice = AccountEvent.objects.get()
    assert (notice.field, notice.event, notice.organization) == ("account_update", "ACCOUNT_VIOLATION",
                                                                 number.organization)
    assert notice.webhook_event == WebhookEvent.objects.get()


# --- Resolved conversations --------------------------------------------------------------------
