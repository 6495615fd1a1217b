"""A pause covers only what Meta refuses: 131063 (marketing messages turned off on the
Cloud API for the account) holds the number's marketing templates, with the reason
shown, while its service replies and utility templates keep going; the check (a
marketing template) lifts it. Against the simulator's failure injection."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import AuditLogEntry
from apps.conversations.tests.factories import ConversationFactory
from apps.message_templates.models import MessageTemplate
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message, Status
from apps.messaging.sending import paused_numbers_check
from apps.messaging.services.send import message_send
from apps.providers.meta import errors
from apps.simulator.models import SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp.models import WhatsAppNumber

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(simulator, settings):
    settings.SEND_PAUSE_CHECK_SECONDS = 600
    settings.SEND_PAUSE_CHECK_MAX_SECONDS = 3600
    return ConversationFactory()


def template(conversation, category):
    return MessageTemplateFactory(organization=conversation.organization, waba_id=conversation.number.waba_id,
                                  category=category)


def send_template(conversation, tpl):
    return message_send(conversation=conversation, kind="template",
                        payload={"name": tpl.name, "language": tpl.language, "body": ["Ann", "7"]})


def send_text(conversation, body):
    return message_send(conversation=conversation, kind="text", payload={"body": body})


def posts():
    return SimulatedRequest.objects.filter(method="POST", path__endswith="/messages").count()


def number_of(conversation):
    return WhatsAppNumber.objects.get(pk=conversation.number_id)


def status_of(message):
    return Message.objects.get(pk=message.pk).status


def test_131063_pauses_marketing_templates_only():
    assert errors.pause_scope(131063) == errors.MARKETING
    assert [errors.pause_scope(code) for code in (368, 131031, 131048, 10, 250, None)] == [""] * 6
    assert "Marketing Messages API" in errors.describe(131063)


def test_a_marketing_refusal_pauses_marketing_templates_and_the_rest_goes_out(conversation, published):
    marketing = template(conversation, MessageTemplate.Category.MARKETING)
    utility = template(conversation, MessageTemplate.Category.UTILITY)
    inject(fail_code=131063, fail_count=1)
    offer = send_template(conversation, marketing)
    number = number_of(conversation)
    assert (number.sending_pause_code, number.sending_pause_scope) == (131063, "marketing")
    assert number.sending_pause_reason.startswith("(131063) ")
    reply = send_text(conversation, "Your order shipped")
    receipt = send_template(conversation, utility)
    second_offer = send_template(conversation, marketing)
    assert (status_of(reply), status_of(receipt)) == (Status.SENT, Status.SENT)
    assert (status_of(offer), status_of(second_offer)) == (Status.PENDING, Status.PENDING)
    assert Message.objects.get(pk=offer.pk).error_code is None  # waiting, not failed
    assert posts() == 3  # the refusal, the reply, the utility template: the second offer never went out
    number = number_of(conversation)
    assert number.sending_paused_at is not None and number.sending_pause_scope == "marketing"  # answers lift nothing
    alert = AuditLogEntry.objects.get(action="number.sending_paused")
    assert alert.data["scope"] == "marketing" and alert.data["code"] == 131063
    [event] = [data for name, data, _ in published if name == "number.sending_paused"]
    assert event["scope"] == "marketing" and event["reason"] == number.sending_pause_reason


def test_the_check_lifts_the_scoped_pause(conversation):
    marketing = template(conversation, MessageTemplate.Category.MARKETING)
    inject(fail_code=131063, fail_count=1)
    offers = [send_template(conversation, marketing), send_template(conversation, marketing)]
    send_text(conversation, "hello")
    assert paused_numbers_check() == 0  # not due yet
    WhatsAppNumber.objects.filter(pk=conversation.number_id).update(
        sending_resume_at=timezone.now() - timedelta(seconds=1))
    assert paused_numbers_check() == 1
    assert [status_of(m) for m in offers] == [Status.SENT, Status.SENT]
    number = number_of(conversation)
    assert (number.sending_paused_at, number.sending_pause_scope, number.sending_pause_code) == (None, "", None)
    resumed = AuditLogEntry.objects.get(action="number.sending_resumed")
    assert (resumed.data["how"], resumed.data["scope"]) == ("check passed", "marketing")


def test_a_failed_check_keeps_only_marketing_waiting(conversation):
    marketing = template(conversation, MessageTemplate.Category.MARKETING)
    inject(fail_code=131063, fail_count=2)
    offer = send_template(conversation, marketing)
    WhatsAppNumber.objects.filter(pk=conversation.number_id).update(
        sending_resume_at=timezone.now() - timedelta(seconds=1))
    assert paused_numbers_check() == 1
    number = number_of(conversation)
    assert (number.sending_pause_checks, number.sending_pause_scope) == (1, "marketing")
    assert status_of(offer) == Status.PENDING
    assert status_of(send_text(conversation, "still here")) == Status.SENT


def test_a_whole_number_error_widens_a_marketing_pause(conversation, published):
    marketing = template(conversation, MessageTemplate.Category.MARKETING)
    inject(fail_code=131063, fail_count=1)
    send_template(conversation, marketing)
    inject(fail_code=368, fail_count=1)
    reply = send_text(conversation, "one")
    number = number_of(conversation)
    assert (number.sending_pause_code, number.sending_pause_scope) == (368, "")
    assert status_of(reply) == Status.PENDING
    assert status_of(send_text(conversation, "two")) == Status.PENDING
    assert AuditLogEntry.objects.filter(action="number.sending_paused").count() == 2


def test_a_whole_number_pause_is_not_narrowed_by_a_marketing_refusal(conversation):
    marketing = template(conversation, MessageTemplate.Category.MARKETING)
    inject(fail_code=368, fail_count=1)
    send_template(conversation, marketing)
    WhatsAppNumber.objects.filter(pk=conversation.number_id).update(
        sending_resume_at=timezone.now() - timedelta(seconds=1))
    inject(fail_code=131063, fail_count=1)
    assert paused_numbers_check() == 1  # the check (the offer) meets the marketing refusal
    number = number_of(conversation)
    assert (number.sending_pause_code, number.sending_pause_scope, number.sending_pause_checks) == (368, "", 1)
    assert status_of(send_text(conversation, "one")) == Status.PENDING


def test_agents_see_that_only_marketing_templates_wait(conversation):
    from django.test import Client
    from django.urls import reverse

    from apps.accounts.tests.factories import AdminFactory

    inject(fail_code=131063, fail_count=1)
    send_template(conversation, template(conversation, MessageTemplate.Category.MARKETING))
    client = Client()
    client.force_login(AdminFactory(organization=conversation.organization))
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "<strong data-composer-paused-marketing>Marketing templates from this number are paused" in html
    assert "<strong data-composer-paused-all hidden>" in html
    assert number_of(conversation).sending_pause_reason in html


def test_a_backlog_of_held_marketing_templates_does_not_keep_the_rest_from_the_claim(conversation, monkeypatch):
    from apps.messaging.sending import kick, run
    from apps.messaging.tests.factories import OutboundMessageFactory

    marketing = template(conversation, MessageTemplate.Category.MARKETING)
    inject(fail_code=131063, fail_count=1)
    offers = [send_template(conversation, marketing) for _ in range(3)]
    reply = OutboundMessageFactory(conversation=conversation, number=conversation.number,
                                   organization=conversation.organization, type="text",
                                   content={"body": "hello"}, text="hello")
    # As if the offers had waited for the number's batch task, not been set aside yet.
    Message.objects.filter(pk__in=[m.pk for m in offers]).update(next_attempt_at=None)
    monkeypatch.setattr(kick, "BATCH_SIZE", 2)
    kicks = []
    monkeypatch.setattr(kick, "kick_quietly", kicks.append)
    assert run.number_batch_send(conversation.number_id) == 0  # two offers claimed, held, set aside
    assert kicks == [conversation.number_id]  # the next claim is queued at once
    assert run.number_batch_send(conversation.number_id) == 1  # the third offer is set aside, the reply goes
    assert status_of(reply) == Status.SENT
    assert [status_of(m) for m in offers] == [Status.PENDING] * 3
