"""A message sent on its own (a file of ours, its own retry) goes the one way every
send goes: claimed by the one claim, sent as a batch of one from the sender loop, its
answer stored by the one store. Its file is uploaded to Meta first, once; a transient
error of the upload or of the call is retried by its own task; a message that gets no
slot waits for its own task, which the number's batches would never take.

Against the simulator over real HTTP; the tasks the code queues are recorded, and run
here as a worker would."""

import pytest

from apps.conversations.tests.factories import ConversationFactory
from apps.media.models import Media
from apps.media.services import media_upload_to_meta
from apps.media.tests.factories import UploadFactory
from apps.messaging import tasks
from apps.messaging.models import Message, Status
from apps.messaging.sending import kick, ratelimit
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.simulator.models import SimulatedMedia, SimulatedMessage, SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(simulator, monkeypatch):  # noqa: F811
    calls = []
    monkeypatch.setattr(kick, "dispatch", lambda task, *args, countdown=None, **kw: calls.append(
        (task, args, countdown)))
    return calls


@pytest.fixture
def document():
    """A pending document message whose file is ours (an agent's upload, not at Meta yet)."""
    conversation = ConversationFactory()
    ratelimit.client().delete(kick.KICK_PREFIX + str(conversation.number_id))
    ratelimit.reset()
    message = OutboundMessageFactory(conversation=conversation, type="document", text="",
                                     content={"caption": "Your invoice", "filename": "invoice.pdf"})
    UploadFactory(organization=conversation.organization, message=message)
    return message


def _sent_payloads():
    return [m.payload for m in SimulatedMessage.objects.order_by("pk")]


def test_a_file_of_ours_is_uploaded_then_sent_and_its_answer_stored(queued, document):
    assert tasks.send_message.run(document.pk) == "sent"

    media = Media.objects.get(message=document)
    row = Message.objects.get(pk=document.pk)
    assert (row.status, row.send_attempts) == (Status.SENT, 1)
    assert media.meta_media_id and row.content["id"] == media.meta_media_id
    assert SimulatedMedia.objects.filter(media_id=media.meta_media_id).count() == 1
    (payload,) = _sent_payloads()
    assert payload["type"] == "document" and payload["document"]["id"] == media.meta_media_id
    assert payload["document"]["caption"] == "Your invoice"
    assert SimulatedMessage.objects.get().wamid == row.wamid
    # Run again (a redelivery): nothing is uploaded or sent twice.
    assert tasks.send_message.run(document.pk) == "done"
    assert SimulatedMedia.objects.count() == 1 and SimulatedMessage.objects.count() == 1


def test_a_transient_error_of_the_upload_is_retried_by_its_own_task(queued, document):
    inject(fail_code=131000, fail_count=1)  # the first request, the upload, fails

    assert tasks.send_message.run(document.pk) == "retry"
    row = Message.objects.get(pk=document.pk)
    assert (row.status, row.wamid, row.send_started_at) == (Status.PENDING, None, None)
    assert row.next_attempt_at is not None
    assert [(task, args) for task, args, _countdown in queued] == [(kick.SEND_MESSAGE, (document.pk,))]
    assert SimulatedMessage.objects.count() == 0

    assert tasks.send_message.run(document.pk) == "sent"
    row = Message.objects.get(pk=document.pk)
    assert (row.status, row.send_attempts) == (Status.SENT, 2)
    assert SimulatedMedia.objects.count() == 1 and SimulatedMessage.objects.count() == 1


def test_a_transient_error_of_the_call_is_retried_without_uploading_again(queued, document):
    media = Media.objects.get(message=document)
    media_upload_to_meta(media=media, number=document.number)
    uploaded = Media.objects.get(pk=media.pk).meta_media_id
    inject(fail_code=131000, fail_count=1)  # the send call fails

    assert tasks.send_message.run(document.pk) == "retry"
    assert Message.objects.get(pk=document.pk).status == Status.PENDING
    assert tasks.send_message.run(document.pk) == "sent"

    assert SimulatedMedia.objects.count() == 1  # the fresh upload is reused
    assert [p["document"]["id"] for p in _sent_payloads()] == [uploaded]
    assert SimulatedRequest.objects.filter(path__endswith="/messages").count() == 2


def test_a_refused_file_fails_with_metas_reason_and_is_not_sent(queued, document):
    inject(fail_code=131053, fail_count=1)  # Meta refuses the upload

    assert tasks.send_message.run(document.pk) == "failed"
    row = Message.objects.get(pk=document.pk)
    assert (row.status, row.error_code) == (Status.FAILED, 131053)
    assert SimulatedMessage.objects.count() == 0 and queued == []


def test_a_file_that_gets_no_slot_waits_for_its_own_task(queued, document):
    number = document.number
    number.rate_limit_per_second = 1
    number.save(update_fields=["rate_limit_per_second"])
    # Others took the number's slots for the next seconds.
    ratelimit.send_reserve_batch(number, [f"5511900000{i:03d}" for i in range(5)], max_wait=10)

    assert tasks.send_message.run(document.pk) == "throttled"

    row = Message.objects.get(pk=document.pk)
    assert (row.status, row.send_started_at, row.send_attempts) == (Status.PENDING, None, 0)
    assert row.next_attempt_at is not None
    # Its own task, later: the number's batches never claim a media message.
    assert [(task, args) for task, args, _countdown in queued] == [(kick.SEND_MESSAGE, (document.pk,))]
    assert queued[0][2] > 0
    assert SimulatedRequest.objects.filter(path__endswith="/messages").count() == 0
