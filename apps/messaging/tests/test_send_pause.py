"""A number Meta refuses as a whole (a permission the app lacks, a block, the spam
rate limit): its sending is paused, its messages wait (pending, never failed one by
one), the organisation is alerted, agents see why; a due check or an admin resumes it.
Against the simulator, which answers Meta's error shapes."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.models import AuditLogEntry
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message, Status
from apps.messaging.sending import paused_numbers_check, pending_sweep
from apps.messaging.services.send import message_send
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator.models import SimulatedMessage, SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.conftest import deliver  # noqa: F401
from apps.whatsapp.tests.utils import envelope, messages_change, status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(simulator, settings):
    settings.SEND_PAUSE_CHECK_SECONDS = 600
    settings.SEND_PAUSE_CHECK_MAX_SECONDS = 3600
    settings.SEND_SPAM_PAUSE_SECONDS = 3600
    settings.SEND_SPAM_PAUSE_MAX_SECONDS = 86400
    return ConversationFactory()


def send(conversation, body):
    return message_send(conversation=conversation, kind="text", payload={"body": body})


def posts():
    return SimulatedRequest.objects.filter(method="POST", path__endswith="/messages").count()


def number_of(conversation):
    return WhatsAppNumber.objects.get(pk=conversation.number_id)


def check_due(number):
    WhatsAppNumber.objects.filter(pk=number.pk).update(sending_resume_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("code", [368, 131031, 10, 200, 131005, 133010])
def test_a_block_pauses_the_number_and_its_messages_wait(conversation, published, code):
    inject(fail_code=code, fail_count=5)
    before = timezone.now()
    first = send(conversation, "one")
    second, third = send(conversation, "two"), send(conversation, "three")
    assert posts() == 1  # one refusal: the others never went out
    assert [(m.status, m.error_code, m.send_started_at, m.send_attempts) for m in
            Message.objects.order_by("pk")] == [(Status.PENDING, None, None, 0)] * 3
    number = number_of(conversation)
    assert (number.sending_pause_code, number.sending_pause_checks) == (code, 0)
    assert number.sending_pause_reason.startswith(f"({code}) ") and "Simulated error" in number.sending_pause_reason
    assert timedelta(seconds=599) < number.sending_resume_at - before < timedelta(seconds=610)
    alert = AuditLogEntry.objects.get(action="number.sending_paused")
    assert alert.data == {"number_id": number.pk, "code": code, "reason": number.sending_pause_reason,
                          "scope": ""}
    [event] = [(data, groups) for name, data, groups in published if name == "number.sending_paused"]
    assert event[0]["number_id"] == number.pk and event[0]["reason"] == number.sending_pause_reason
    assert event[1] == [f"org.{number.organization_id}.members"]
    # Nothing of a paused number is queued again by the sweep, nor sent by its tasks.
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert pending_sweep() == 0
    assert {first.pk, second.pk, third.pk} == set(Message.objects.filter(status=Status.PENDING).values_list(
        "pk", flat=True))


def test_a_check_that_passes_resumes_the_number_and_everything_goes_out(conversation, published):
    inject(fail_code=368, fail_count=1)
    sent = [send(conversation, "one"), send(conversation, "two")]
    number = number_of(conversation)
    assert paused_numbers_check() == 0  # not due yet
    check_due(number)
    assert paused_numbers_check() == 1
    assert list(Message.objects.order_by("pk").values_list("status", flat=True)) == [Status.SENT, Status.SENT]
    assert SimulatedMessage.objects.count() == 2
    number = number_of(conversation)
    assert (number.sending_paused_at, number.sending_pause_reason, number.sending_resume_at) == (None, "", None)
    resumed = AuditLogEntry.objects.get(action="number.sending_resumed")
    assert resumed.data["how"] == "check passed" and resumed.data["code"] == 368
    assert "number.sending_resumed" in [name for name, _, _ in published]
    assert all(m.pk for m in sent)


def test_a_failed_check_puts_the_next_one_further_off_and_alerts_once(conversation):
    inject(fail_code=131031, fail_count=4)
    send(conversation, "one")
    send(conversation, "two")
    for checks, wait in ((1, 1200), (2, 2400), (3, 3600)):  # doubling, up to the maximum
        check_due(number_of(conversation))
        before = timezone.now()
        paused_numbers_check()
        number = number_of(conversation)
        assert number.sending_pause_checks == checks
        assert timedelta(seconds=wait - 1) < number.sending_resume_at - before < timedelta(seconds=wait + 10)
    assert posts() == 4  # the first send and one message per check, never the whole queue
    assert list(Message.objects.values_list("status", flat=True)) == [Status.PENDING] * 2
    assert AuditLogEntry.objects.filter(action="number.sending_paused").count() == 1


def test_the_spam_rate_limit_is_not_retried_quickly(conversation):
    inject(fail_code=131048, fail_count=1)
    before = timezone.now()
    message = send(conversation, "one")
    message.refresh_from_db()
    assert (message.status, message.next_attempt_at, posts()) == (Status.PENDING, None, 1)
    number = number_of(conversation)
    assert number.sending_pause_code == 131048
    assert timedelta(seconds=3599) < number.sending_resume_at - before < timedelta(seconds=3610)


def test_an_admin_resumes_the_number(conversation):
    inject(fail_code=131042, fail_count=1)
    send(conversation, "one")
    number = number_of(conversation)
    admin = AdminFactory(organization=conversation.organization, is_staff=True)
    client = Client()
    client.force_login(admin)
    response = client.post(reverse("admin:whatsapp_whatsappnumber_changelist"),
                           {"action": "resume_sending", "_selected_action": [number.pk]})
    assert response.status_code == 302
    assert number_of(conversation).sending_paused_at is None
    assert Message.objects.get().status == Status.SENT
    resumed = AuditLogEntry.objects.get(action="number.sending_resumed")
    assert (resumed.actor, resumed.data["how"]) == (admin, "by an admin")


def test_agents_see_why_the_number_is_paused(conversation):
    inject(fail_code=368, fail_count=1)
    send(conversation, "one")
    admin = AdminFactory(organization=conversation.organization)
    client = Client()
    client.force_login(admin)
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "Sending from this number is paused." in html
    assert number_of(conversation).sending_pause_reason in html
    WhatsAppNumber.objects.filter(pk=conversation.number_id).update(sending_paused_at=None)
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert 'data-composer-paused data-number-id="%d" role="alert" hidden' % conversation.number_id in html


def test_a_failed_status_with_a_block_pauses_the_number(conversation, deliver):
    message = OutboundMessageFactory(conversation=conversation, wamid="wamid.BLOCKED", status=Status.SENT)
    deliver(envelope(messages_change(phone_number_id=conversation.number.phone_number_id, statuses=[
        status("wamid.BLOCKED", "failed", recipient_id=conversation.contact.wa_id, errors=[{
            "code": 131031, "title": "Business Account locked",
            "message": "Business Account locked", "error_data": {"details": "Your account is locked."}}])])))
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, 131031)
    number = number_of(conversation)
    assert number.sending_pause_code == 131031
    assert "Your account is locked." in number.sending_pause_reason
    later = send(conversation, "next")
    assert Message.objects.get(pk=later.pk).status == Status.PENDING and posts() == 0


@pytest.mark.django_db(transaction=True)
def test_a_resume_queues_the_numbers_send_now_even_when_a_later_send_is_queued(monkeypatch):
    """A send queued for later (a give-back's countdown, a pause's check) holds the
    number's kick key until it runs: the resume's kick must not be swallowed by it, or
    the waiting messages wait for that later task. On the real Redis."""
    from django.utils import timezone

    from apps.conversations.tests.factories import ConversationFactory
    from apps.messaging.sending import kick, number_sending_resume, ratelimit

    number = ConversationFactory().number
    ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))
    calls = []
    monkeypatch.setattr(kick, "dispatch", lambda task, *args, countdown=None, **kw: calls.append((args, countdown)))
    type(number).objects.filter(pk=number.pk).update(sending_paused_at=timezone.now(), sending_pause_code=368)
    kick.kick(number.pk, countdown=60)  # a send for later holds the key
    assert calls == [((number.pk,), 60)]
    try:
        assert number_sending_resume(number_id=number.pk, how="by an admin")
        assert ((number.pk,), None) in calls  # queued now
    finally:
        ratelimit.client().delete(kick.KICK_PREFIX + str(number.pk))
