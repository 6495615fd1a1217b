"""The send task's cheap path: one statement claims and loads the message (PostgreSQL),
one builds the sent row and answers whether statuses wait for it, and the live event
is built from the loaded row. Each must give exactly what the ORM path gives."""

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone
from rest_framework import serializers

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Direction, Message, PendingStatus, Reaction, Status
from apps.messaging.serializers import MessageSerializer, message_event_data
from apps.messaging.services.send import message_send
from apps.messaging.services.statuses import status_apply
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.messaging.tests.send_cases import CASES
from apps.providers.meta.parser import parse_status
from apps.simulator import webhooks
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def plain(data):
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@pytest.fixture
def conversation(simulator):
    return ConversationFactory()


@pytest.mark.parametrize(("kind", "payload", "_expected"), CASES)
def test_the_sent_event_is_what_the_serializer_gives_for_the_stored_row(conversation, published, kind, payload,
                                                                        _expected):
    author = AdminFactory(organization=conversation.organization, display_name="Ana")
    message = message_send(conversation=conversation, author=author, author_type="agent", kind=kind, payload=payload)
    event, data, groups = published[-1]
    stored = Message.objects.get(pk=message.pk)
    assert event == "message.updated" and data["status"] == "sent" and data["author_name"] == "Ana"
    assert data == plain(MessageSerializer(stored).data)


def test_the_sent_event_of_an_uploaded_file_carries_its_media(conversation, published):
    from django.core.files.base import ContentFile

    from apps.media.models import Media

    media = Media.objects.create(
        organization=conversation.organization, mime_type="image/png", filename="p.png", state=Media.State.STORED
    )
    media.file.save("p.png", ContentFile(b"\x89PNG data"), save=True)
    message = message_send(conversation=conversation, author_type="agent", kind="image", payload={"media": media.pk})
    data = published[-1][1]
    assert data["media"]["id"] == media.pk
    assert data == plain(MessageSerializer(Message.objects.get(pk=message.pk)).data)


def test_event_data_matches_the_serializer_with_reactions_errors_and_dates():
    message = OutboundMessageFactory(
        status=Status.FAILED, wamid="wamid.X1", failed_at=timezone.now(), error_code=131047,
        error_title="Re-engagement message", error_message="More than 24 hours", sent_at=timezone.now(),
    )
    Reaction.objects.create(organization=message.organization, number=message.number, target_wamid="wamid.X1",
                            message=message, direction=Direction.INBOUND, reactor="5511", emoji="👍",
                            reacted_at=timezone.now())
    row = Message.objects.select_related("author").get(pk=message.pk)
    # The one builder (MessageSerializer's output) against DRF's own field machinery.
    by_fields = serializers.ModelSerializer.to_representation(MessageSerializer(), row)
    assert plain(message_event_data(row)) == plain(by_fields)
    assert MessageSerializer(row).data == message_event_data(row)
    assert plain(message_event_data(row))["reactions"][0]["emoji"] == "👍"


def test_a_status_that_arrived_before_the_wamid_is_applied_when_it_is_stored(conversation, published, monkeypatch):
    monkeypatch.setattr(webhooks, "new_wamid", lambda: "wamid.EARLY")
    early = parse_status({"id": "wamid.EARLY", "status": "delivered", "timestamp": "1700000000",
                          "recipient_id": conversation.contact.wa_id}, path="t", waba_id="w",
                         phone_number_id=conversation.number.phone_number_id, display_phone_number="")
    assert status_apply(number=conversation.number, update=early) == "pending"
    message = message_send(conversation=conversation, author_type="agent", kind="text", payload={"body": "Hi"})
    message.refresh_from_db()
    assert (message.wamid, message.status) == ("wamid.EARLY", Status.DELIVERED)
    assert PendingStatus.objects.count() == 0
    assert published[-1][1]["status"] == "delivered"


def test_one_statement_claims_and_loads_a_pending_message(conversation):
    from django.test.utils import CaptureQueriesContext

    from apps.messaging.sending.claim import messages_claim

    author = AdminFactory(organization=conversation.organization, display_name="Ana")
    message = OutboundMessageFactory(conversation=conversation, author=author)
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        (loaded,) = messages_claim(claimed_at=now, ids=[message.pk])
        # Everything the send needs is loaded: no query for any of it.
        seen = (loaded.number.access_token, loaded.number.phone_number_id, loaded.conversation.contact.wa_id,
                loaded.conversation.assignee_id, loaded.conversation.team_id, loaded.author.name, loaded.content)
    assert len(queries) == 1
    assert seen == (conversation.number.access_token, conversation.number.phone_number_id,
                    conversation.contact.wa_id, conversation.assignee_id, conversation.team_id, "Ana",
                    message.content)
    assert (loaded.send_started_at, loaded.send_attempts) == (now, 1)
    message.refresh_from_db()
    assert (message.send_started_at, message.send_attempts) == (now, 1)
    # Claimed already, sent, or not outbound: nothing is claimed (the task looks at why).
    assert messages_claim(claimed_at=now, ids=[message.pk]) == []
    sent = OutboundMessageFactory(conversation=conversation, status=Status.SENT, wamid="wamid.DONE")
    assert messages_claim(claimed_at=now, ids=[sent.pk]) == []
    assert messages_claim(claimed_at=now, ids=[0]) == []


def test_a_stored_answer_moves_the_state_forward_only(conversation, published):
    # A pending message becomes "sent". The answer of a message marked interrupted
    # meanwhile (its claim outlived) settles it: Meta had it, so it is "sent", its
    # failure cleared. One that already has what the customer got keeps it, the time
    # stored all the same.
    from apps.messaging.sending.outcome import answers_store

    pending = OutboundMessageFactory(conversation=conversation)
    failed = OutboundMessageFactory(conversation=conversation, status=Status.FAILED, error_title="Send interrupted",
                                    error_message="may or may not", failed_at=timezone.now())
    read = OutboundMessageFactory(conversation=conversation, status=Status.READ)
    ids = [pending.pk, failed.pk, read.pk]
    loaded = {m.pk: m for m in Message.objects.select_related("conversation", "author").filter(pk__in=ids)}
    outcome = answers_store([(loaded[pending.pk], "wamid.P", None, ""), (loaded[failed.pk], "wamid.F", None, ""),
                             (loaded[read.pk], "wamid.R", None, "")])
    assert outcome == {pending.pk: "sent", failed.pk: "sent", read.pk: "sent"}
    rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
    assert (rows[pending.pk].status, rows[pending.pk].wamid) == (Status.SENT, "wamid.P")
    assert (rows[failed.pk].status, rows[failed.pk].wamid, rows[failed.pk].error_title,
            rows[failed.pk].error_message, rows[failed.pk].failed_at) == (Status.SENT, "wamid.F", "", "", None)
    assert (rows[read.pk].status, rows[read.pk].wamid) == (Status.READ, "wamid.R")
    assert rows[pending.pk].sent_at == rows[failed.pk].sent_at == rows[read.pk].sent_at is not None
    assert {data["id"]: data["status"] for event, data, _ in published if event == "message.updated"} == {
        pending.pk: "sent", failed.pk: "sent", read.pk: "read"}
    # A wamid is stored once: a second answer for either changes nothing.
    assert answers_store([(loaded[pending.pk], "wamid.X", None, "")]) == {}
    assert Message.objects.get(pk=pending.pk).wamid == "wamid.P"
