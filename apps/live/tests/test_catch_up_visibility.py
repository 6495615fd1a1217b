"""Catch-up replays what the user may see now: a conversation they may not see (never
could, or no longer can) comes back only as a stub that tells the client to drop its
row, never with its contact, phone or preview; its contact's events not at all."""

import json

import pytest

from apps.conversations.services import (
    contact_update,
    conversation_assign,
    conversation_publish,
)
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging.services.inbound import message_publish
from apps.messaging.tests.factories import MessageFactory

from .helpers import away_and_back, missed

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_NAME = "Zelda Secretcustomer"
SECRET_PHONE = "5511977776666"
SECRET_TEXT = "my card number is 4111"


@pytest.fixture
def secret(world):
    """A conversation on the team's number, unassigned (so published to the number's
    group), with a contact and a preview no newcomer to the team may learn."""
    contact = ContactFactory(organization=world["org"], wa_id=SECRET_PHONE, profile_name=SECRET_NAME)
    conversation = ConversationFactory(organization=world["org"], number=world["number"], contact=contact,
                                       last_message_preview=SECRET_TEXT)
    return conversation


def while_unassigned_then_given_to_b(world, conversation) -> list:
    message = MessageFactory(conversation=conversation, text=SECRET_TEXT)
    return [
        lambda: conversation_publish(conversation, event="conversation.created"),
        lambda: message_publish(message, event="message.created"),
        lambda: contact_update(contact=conversation.contact, actor=world["supervisor"], name=SECRET_NAME + " VIP"),
        lambda: conversation_publish(conversation),
        lambda: conversation_assign(conversation=conversation, actor=world["supervisor"], assignee=world["agent_b"]),
        lambda: conversation_publish(conversation),
    ]


def leaks(frames) -> list[dict]:
    secrets = (SECRET_NAME, SECRET_PHONE, SECRET_TEXT)
    return [f for f in frames if any(s in json.dumps(f, ensure_ascii=False) for s in secrets)]


def test_a_newcomer_to_the_team_gets_only_a_stub_of_a_conversation_since_given_to_another(world, secret):
    loner = world["loner"]
    team = world["agent_a"].teams.get()

    def join_the_team():
        team.members.add(loner)

    actions = [*while_unassigned_then_given_to_b(world, secret), join_the_team]
    cursor, frames = away_and_back(loner, actions)
    assert leaks(frames) == []
    assert missed(frames, cursor) == [("conversation.updated", secret.id)]
    stub = [f for f in frames if f["event"] == "conversation.updated"]
    assert [f["data"] for f in stub] == [{"id": secret.id, "removed": True}]
    assert not [f for f in frames if f["event"] == "contact.updated" and f["data"].get("id") == secret.contact_id]
    assert frames[-1]["event"] == "catch_up.done"


def test_an_agent_who_lost_the_conversation_gets_the_stub_not_its_data(world, secret):
    agent = world["agent_a"]
    cursor, frames = away_and_back(agent, while_unassigned_then_given_to_b(world, secret))
    assert leaks(frames) == []
    assert missed(frames, cursor) == [("conversation.updated", secret.id)]
    assert [f["data"] for f in frames if f["event"] == "conversation.updated"] == [{"id": secret.id, "removed": True}]


def test_a_user_who_sees_the_conversation_gets_every_event_in_full(world, secret):
    supervisor = world["supervisor"]
    cursor, frames = away_and_back(supervisor, while_unassigned_then_given_to_b(world, secret))
    assert missed(frames, cursor) == [
        ("conversation.created", secret.id),
        ("message.created", secret.messages.get().id),
        ("conversation.updated", secret.id),
        ("conversation.updated", secret.id),
        ("conversation.updated", secret.id),
    ]
    updates = [f["data"] for f in frames if f["event"] == "conversation.updated"]
    assert all("removed" not in data for data in updates)
    assert updates[-1]["contact"]["wa_id"] == SECRET_PHONE
    assert updates[-1]["contact"]["display_name"] == SECRET_NAME + " VIP"
    assert updates[-1]["assignee_id"] == world["agent_b"].id
    contact_events = [f["data"] for f in frames
                      if f["event"] == "contact.updated" and f["data"]["id"] == secret.contact_id]
    assert [data["name"] for data in contact_events] == [SECRET_NAME + " VIP"]


def test_the_agent_the_conversation_was_given_to_gets_it_in_full(world, secret):
    cursor, frames = away_and_back(world["agent_b"], while_unassigned_then_given_to_b(world, secret))
    updates = [f["data"] for f in frames if f["event"] == "conversation.updated" and f["data"]["id"] == secret.id]
    # The team's group lost it when it was given to B, so B (in the team) also hears the
    # team's stub: harmless, the client asks the server for the row either way.
    full = [data for data in updates if not data.get("removed")]
    assert full and all(data["contact"]["wa_id"] == SECRET_PHONE for data in full)
