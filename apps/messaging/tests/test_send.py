"""The send use-case end to end: validation, storage, the task and the simulator over HTTP."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message, Status
from apps.messaging.services.send import message_retry, message_send
from apps.messaging.tests.factories import MessageFactory
from apps.messaging.tests.send_cases import CASES
from apps.messaging.validation import SendError
from apps.simulator.models import SimulatedMedia, SimulatedMessage
from apps.simulator.testing import inject, simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(simulator):
    return ConversationFactory()


def send(conversation, kind, payload, **kwargs):
    return message_send(conversation=conversation, author=None, author_type="agent", kind=kind, payload=payload, **kwargs)


def sent_payload(message):
    message.refresh_from_db()
    assert message.status == Status.SENT, (message.error_code, message.error_message)
    return SimulatedMessage.objects.get(wamid=message.wamid).payload


@pytest.mark.parametrize(("kind", "payload", "expected"), CASES)
def test_every_type_reaches_the_simulator(conversation, published, kind, payload, expected):
    message = send(conversation, kind, payload)
    body = sent_payload(message)
    assert body[kind] == expected
    assert (body["to"], body["type"], body["messaging_product"]) == (conversation.contact.wa_id, kind, "whatsapp")
    assert [e[0] for e in published] == ["conversation.updated", "message.created", "message.updated"]
    assert published[1][1]["status"] == "pending"
    assert published[2][1]["status"] == "sent"
    message.refresh_from_db()
    assert (message.send_attempts, message.direction, message.sent_at is not None) == (1, "out", True)


def test_contacts_are_sent_as_a_list(conversation):
    card = {"name": {"formatted_name": "Ann Lee", "first_name": "Ann"}, "phones": [{"phone": "+15550001"}]}
    message = send(conversation, "contacts", {"contacts": [card]})
    assert sent_payload(message)["contacts"] == [card]


def test_reaction_and_reply_to(conversation):
    inbound = MessageFactory(conversation=conversation)
    reaction = send(conversation, "reaction", {"message": inbound.pk, "emoji": "👍"})
    assert sent_payload(reaction)["reaction"] == {"message_id": inbound.wamid, "emoji": "👍"}
    removal = send(conversation, "reaction", {"message": inbound.pk, "emoji": ""})
    assert sent_payload(removal)["reaction"] == {"message_id": inbound.wamid, "emoji": ""}
    reply = send(conversation, "text", {"body": "Sure"}, reply_to=inbound)
    assert sent_payload(reply)["context"] == {"message_id": inbound.wamid}


def test_uploaded_media_is_sent_by_id(conversation):
    from django.core.files.base import ContentFile

    from apps.media.models import Media

    media = Media.objects.create(
        organization=conversation.organization, mime_type="image/png", filename="p.png", state=Media.State.STORED
    )
    media.file.save("p.png", ContentFile(b"\x89PNG data"), save=True)
    message = send(conversation, "image", {"media": media.pk, "caption": "Pic"})
    body = sent_payload(message)
    media.refresh_from_db()
    assert body["image"] == {"id": media.meta_media_id, "caption": "Pic"}
    assert bytes(SimulatedMedia.objects.get(media_id=media.meta_media_id).content) == b"\x89PNG data"
    assert media.message_id == message.pk


def test_media_gone_before_sending_fails_the_message_with_the_reason(conversation):
    from django.core.files.base import ContentFile

    from apps.media.models import Media

    media = Media.objects.create(
        organization=conversation.organization, mime_type="image/png", filename="p.png", state=Media.State.STORED
    )
    media.file.save("p.png", ContentFile(b"\x89PNG data"), save=True)
    Media.objects.filter(pk=media.pk).update(state=Media.State.EXPIRED)
    message = send(conversation, "image", {"media": media.pk})
    message.refresh_from_db()
    assert (message.status, message.error_title) == ("failed", "Media unavailable")
    assert message.error_message == "The file is no longer stored (Expired (retention))."
    assert not SimulatedMedia.objects.exists()


def test_template_validated_and_sent(conversation):
    template = MessageTemplateFactory(organization=conversation.organization, waba_id=conversation.number.waba_id)
    message = send(conversation, "template", {"name": template.name, "language": "en_US", "parameters": ["Ann", "42"]})
    assert sent_payload(message)["template"] == {
        "name": template.name, "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}, {"type": "text", "text": "42"}]}],
    }
    assert message.text == "Hello Ann, your order 42 has shipped."


@pytest.mark.parametrize(("change", "payload", "code"), [
    ({}, {"parameters": ["Ann"]}, "count"),
    ({"status": "PAUSED"}, {"parameters": ["Ann", "1"]}, "not_approved"),
    ({}, {"name": "missing", "parameters": []}, "not_found"),
])
def test_template_refusals_store_nothing(conversation, change, payload, code):
    template = MessageTemplateFactory(organization=conversation.organization, waba_id=conversation.number.waba_id, **change)
    with pytest.raises(SendError) as caught:
        send(conversation, "template", {"name": template.name, "language": "en_US", **payload})
    assert caught.value.code == code
    assert Message.objects.count() == 0


def test_outside_the_window_only_templates(conversation):
    conversation.last_customer_message_at = timezone.now() - timedelta(hours=24, seconds=1)
    conversation.save()
    template = MessageTemplateFactory(organization=conversation.organization, waba_id=conversation.number.waba_id)
    with pytest.raises(SendError) as caught:
        send(conversation, "text", {"body": "Hi"})
    assert (caught.value.field, caught.value.code) == ("type", "window_closed")
    assert caught.value.extra["templates"] == [{"name": template.name, "language": "en_US", "category": "UTILITY"}]
    assert Message.objects.count() == 0
    message = send(conversation, "template", {"name": template.name, "language": "en_US", "parameters": ["A", "B"]})
    assert sent_payload(message)["type"] == "template"


def test_opted_out_contacts_receive_nothing(conversation):
    conversation.contact.opted_out = True
    conversation.contact.opt_out_reason = "STOP"
    conversation.contact.save()
    with pytest.raises(SendError) as caught:
        send(conversation, "text", {"body": "Hi"})
    assert caught.value.code == "opted_out"
    assert "STOP" in caught.value.message
    assert Message.objects.count() == 0


def test_marketing_templates_skip_marketing_opt_outs(conversation):
    conversation.contact.marketing_opted_out = True
    conversation.contact.save()
    template = MessageTemplateFactory(organization=conversation.organization, waba_id=conversation.number.waba_id,
                                      category="MARKETING")
    with pytest.raises(SendError) as caught:
        send(conversation, "template", {"name": template.name, "language": "en_US", "parameters": ["A", "B"]})
    assert caught.value.code == "marketing_opted_out"
    assert Message.objects.count() == 0


def test_transient_errors_are_retried_then_succeed(conversation):
    inject(fail_code=131000, fail_count=2)
    message = send(conversation, "text", {"body": "Hi"})
    sent_payload(message)
    assert message.send_attempts == 3
    assert SimulatedMessage.objects.count() == 1


def test_transient_errors_give_up_after_the_limit(conversation, settings):
    settings.SEND_MAX_ATTEMPTS = 3
    inject(error_5xx_rate=1.0)
    message = send(conversation, "text", {"body": "Hi"})
    message.refresh_from_db()
    assert (message.status, message.send_attempts, message.error_code) == ("failed", 3, 2)


def test_terminal_errors_are_shown(conversation, published):
    inject(fail_code=131026, fail_count=1)
    message = send(conversation, "text", {"body": "Hi"})
    message.refresh_from_db()
    assert (message.status, message.error_code, message.send_attempts) == ("failed", 131026, 1)
    assert message.error_title == "Message undeliverable"
    assert message.error_details == "Simulated error 131026"
    assert published[-1][0] == "message.updated"
    assert published[-1][1]["error_code"] == 131026


def test_a_task_executed_twice_sends_once(conversation):
    from apps.messaging.tasks import send_message

    message = send(conversation, "text", {"body": "Hi"})
    assert send_message(message.pk) == "done"
    assert SimulatedMessage.objects.count() == 1


def unsent(monkeypatch, conversation, body):
    """A message stored as pending whose task was lost."""
    with monkeypatch.context() as patched:
        patched.setattr("apps.messaging.sending.send_enqueue", lambda *args, **kwargs: None)
        return send(conversation, "text", {"body": body})


def test_a_claim_in_flight_is_not_sent_again_and_a_stale_one_is_marked(conversation, monkeypatch):
    from apps.messaging.tasks import send_message

    message = unsent(monkeypatch, conversation, "Hi")
    # Its call was recorded: it may have reached Meta.
    Message.objects.filter(pk=message.pk).update(send_started_at=timezone.now(), call_started_at=timezone.now(),
                                                 send_attempts=1)
    assert send_message(message.pk) == "in_flight"
    Message.objects.filter(pk=message.pk).update(send_started_at=timezone.now() - timedelta(minutes=5))
    assert send_message(message.pk) == "interrupted"
    message.refresh_from_db()
    assert (message.status, message.error_title) == ("failed", "Send interrupted")
    assert SimulatedMessage.objects.count() == 0
    admin = AdminFactory(organization=conversation.organization)
    message_retry(message=message, user=admin)
    message.refresh_from_db()
    assert message.status == "sent"
    assert SimulatedMessage.objects.count() == 1


def test_a_stale_claim_whose_call_never_started_is_given_back_and_sent_once(conversation, monkeypatch):
    from apps.messaging.sending import claim
    from apps.messaging.tasks import send_message

    message = unsent(monkeypatch, conversation, "Hi")
    Message.objects.filter(pk=message.pk).update(send_started_at=timezone.now(), send_attempts=1)
    assert send_message(message.pk) == "in_flight"  # its holder may yet record the call
    Message.objects.filter(pk=message.pk).update(
        send_started_at=timezone.now() - timedelta(seconds=claim.UNSTARTED_EXPIRY + 1))
    assert send_message(message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.send_attempts, message.error_title) == ("sent", 1, "")
    assert SimulatedMessage.objects.get().wamid == message.wamid
    assert send_message(message.pk) == "done"
    assert SimulatedMessage.objects.count() == 1


def test_a_claim_given_back_while_its_task_looked_is_claimed_again(conversation, monkeypatch):
    # The task's first claim found the message held (a batch giving its claim back at
    # that moment): it looks, finds it free, and claims it with the same statement.
    from apps.messaging.sending import claim
    from apps.messaging.tasks import send_message

    message = unsent(monkeypatch, conversation, "Hi")
    claims = []
    messages_claim = claim.messages_claim

    def first_finds_it_held(**kwargs):
        claims.append(kwargs.get("ids"))
        return [] if len(claims) == 1 else messages_claim(**kwargs)

    monkeypatch.setattr(claim, "messages_claim", first_finds_it_held)
    assert send_message(message.pk) == "sent"
    assert [ids for ids in claims if ids is not None] == [[message.pk], [message.pk]]
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == (Status.SENT, 1)
    assert SimulatedMessage.objects.count() == 1


def test_retry_refused_where_it_cannot_help(conversation):
    inject(fail_code=131047, fail_count=1)
    message = send(conversation, "text", {"body": "Hi"})
    message.refresh_from_db()
    with pytest.raises(SendError) as caught:
        message_retry(message=message, user=AdminFactory(organization=conversation.organization))
    assert caught.value.code == "retry_cannot_help"
    message.refresh_from_db()
    assert message.status == "failed"


def test_sweeper_reenqueues_messages_that_never_started(conversation, monkeypatch):
    from apps.messaging.tasks import sweep_pending

    message = unsent(monkeypatch, conversation, "Lost")
    assert sweep_pending() == 0
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert sweep_pending() == 1
    message.refresh_from_db()
    assert message.status == "sent"


def test_idempotency_key_returns_the_same_message(conversation):
    first = send(conversation, "text", {"body": "Hi"}, idempotency_key="k1")
    second = send(conversation, "text", {"body": "Hi"}, idempotency_key="k1")
    assert first.pk == second.pk
    assert SimulatedMessage.objects.count() == 1


def test_a_send_whose_task_cannot_be_queued_still_returns_its_stored_message(conversation, monkeypatch):
    """The broker down after the commit: the agent gets the stored, pending message (not
    an error that would make them send it again); sweep_pending queues it later."""
    from apps.messaging.sending import kick

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(kick, "dispatch", broker_down)
    message = send(conversation, "text", {"body": "Still stored"})
    message.refresh_from_db()
    assert (message.status, message.text) == (Status.PENDING, "Still stored")


def test_a_customer_without_a_phone_is_sent_to_by_user_id(conversation, published):
    """A customer who hides the phone behind a WhatsApp username: Meta's `recipient`."""
    contact = conversation.contact
    contact.wa_id, contact.phone, contact.user_id = "", "", "US.13491208655302741918"
    contact.save(update_fields=["wa_id", "phone", "user_id"])
    message = send(conversation, "text", {"body": "Hello, Jane"})
    message.refresh_from_db()
    assert message.status == Status.SENT and message.wamid
    body = sent_payload(message)
    assert body["recipient"] == "US.13491208655302741918" and "to" not in body
    assert SimulatedMessage.objects.get(wamid=message.wamid).customer == "US.13491208655302741918"


def test_a_customer_with_a_phone_is_sent_to_by_wa_id_even_with_a_user_id(conversation):
    contact = conversation.contact
    contact.user_id = "BR.1502576394655843"
    contact.save(update_fields=["user_id"])
    message = send(conversation, "text", {"body": "Olá"})
    body = sent_payload(message)
    assert body["to"] == contact.wa_id and "recipient" not in body
