"""The side panel's actions: assign, status and snooze, labels, priority, bot, notes
with @mentions, the contact. Each one: success, a refusal that changes nothing,
and the reason shown inline."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.conversations import services
from apps.conversations.models import AuditLogEntry, Conversation, Note
from apps.conversations.tests.factories import ConversationFactory
from apps.inbox.tests.helpers import client_for
from apps.messaging.tests.factories import MessageFactory
from apps.realtime import groups

pytestmark = pytest.mark.django_db


def post(user, name, conversation, data, *, commit=None):
    url = reverse(f"inbox:{name}", args=[conversation.pk])
    if commit is None:
        return client_for(user).post(url, data, HTTP_HX_REQUEST="true")
    with commit(execute=True):
        return client_for(user).post(url, data, HTTP_HX_REQUEST="true")


# --- Panels render ------------------------------------------------------------------


def test_actions_panel_offers_an_agent_only_to_take_or_release(world):
    response = client_for(world.agent).get(reverse("inbox:panel_actions", args=[world.unassigned.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Assign to me" in html and 'name="team"' not in html and "Release" not in html
    html = client_for(world.agent).get(reverse("inbox:panel_actions", args=[world.mine.pk])).content.decode()
    assert "Release" in html and "Assign to me" not in html


def test_actions_panel_offers_a_supervisor_every_colleague_and_team(world):
    html = client_for(world.supervisor).get(reverse("inbox:panel_actions", args=[world.mine.pk])).content.decode()
    assert f'value="{world.colleague.pk}"' in html and f'value="{world.team.pk}"' in html
    assert "vip" in html  # the organisation's labels
    assert "foreign-label" not in html


def test_panels_of_a_conversation_the_user_may_not_see_are_not_found(world):
    for name in ("panel_actions", "panel_contact"):
        assert client_for(world.agent).get(reverse(f"inbox:{name}", args=[world.colleagues.pk])).status_code == 404
        assert client_for(world.agent).get(reverse(f"inbox:{name}", args=[world.foreign.pk])).status_code == 404


# --- Assign -------------------------------------------------------------------------


def test_agent_takes_an_unassigned_conversation(world, published, django_capture_on_commit_callbacks):
    response = post(world.agent, "assign", world.unassigned, {"assignee": "me"},
                    commit=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    world.unassigned.refresh_from_db()
    assert world.unassigned.assignee == world.agent
    assert "Release" in response.content.decode()
    events = [(e, d["id"]) for e, d, _g in published]
    assert ("conversation.updated", world.unassigned.pk) in events


def test_agent_cannot_give_a_conversation_to_a_colleague(world):
    response = post(world.agent, "assign", world.unassigned, {"assignee": world.colleague.pk})
    assert response.status_code == 422
    assert "You may not assign this conversation." in response.content.decode()
    world.unassigned.refresh_from_db()
    assert world.unassigned.assignee_id is None


def test_agent_cannot_assign_a_conversation_of_a_colleague(world):
    response = post(world.agent, "assign", world.colleagues, {"assignee": "me"})
    assert response.status_code == 404
    world.colleagues.refresh_from_db()
    assert world.colleagues.assignee == world.colleague


def test_supervisor_assigns_an_agent_and_a_team(world):
    response = post(world.supervisor, "assign", world.unassigned,
                    {"assignee": world.colleague.pk, "team": world.team.pk})
    assert response.status_code == 200
    world.unassigned.refresh_from_db()
    assert (world.unassigned.assignee, world.unassigned.team) == (world.colleague, world.team)


def test_supervisor_cannot_assign_someone_of_another_organisation(world):
    response = post(world.supervisor, "assign", world.unassigned, {"assignee": world.foreign_user.pk})
    assert response.status_code == 422
    assert "Assignee: unknown or deactivated user." in response.content.decode()
    world.unassigned.refresh_from_db()
    assert world.unassigned.assignee_id is None


# --- Status and snooze ----------------------------------------------------------------


def test_agent_resolves_and_reopens(world):
    assert post(world.agent, "status", world.mine, {"status": "resolved"}).status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.status == "resolved" and world.mine.resolved_at is not None
    assert post(world.agent, "status", world.mine, {"status": "open"}).status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.status == "open"


def test_snooze_until_a_time_given_with_its_offset(world):
    until = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = post(world.agent, "status", world.mine, {"status": "snoozed", "snoozed_until": until.isoformat()})
    assert response.status_code == 200
    world.mine.refresh_from_db()
    assert (world.mine.status, world.mine.snoozed_until) == ("snoozed", until)


@pytest.mark.parametrize("value, reason", [
    ("", "Snooze until: choose a date and time."),
    ("tomorrow-ish", "Snooze until: choose a date and time."),
    ("2001-01-01T10:00", "A snoozed conversation needs a time in the future."),
])
def test_snooze_refuses_a_missing_or_past_time(world, value, reason):
    response = post(world.agent, "status", world.mine, {"status": "snoozed", "snoozed_until": value})
    assert response.status_code == 422
    assert reason in response.content.decode()
    world.mine.refresh_from_db()
    assert world.mine.status == "open" and world.mine.snoozed_until is None


def test_unknown_status_is_refused(world):
    response = post(world.agent, "status", world.mine, {"status": "archived"})
    assert response.status_code == 422 and "Unknown status." in response.content.decode()


def test_snoozed_conversations_wake_when_their_time_comes(world, published, django_capture_on_commit_callbacks):
    now = timezone.now()
    services.conversation_set_status(conversation=world.mine, actor=world.agent, status="snoozed",
                                     snoozed_until=now + timedelta(hours=1))
    services.conversation_set_status(conversation=world.unassigned, actor=world.agent, status="snoozed",
                                     snoozed_until=now + timedelta(hours=3))
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conversation_wake_snoozed(now=now + timedelta(minutes=30)) == 0
        assert services.conversation_wake_snoozed(now=now + timedelta(hours=2)) == 1
    world.mine.refresh_from_db()
    world.unassigned.refresh_from_db()
    assert (world.mine.status, world.mine.snoozed_until) == ("open", None)
    assert world.unassigned.status == "snoozed"
    assert [(e, d["id"], d["status"]) for e, d, _g in published] == [("conversation.updated", world.mine.pk, "open")]
    assert AuditLogEntry.objects.filter(conversation=world.mine, action="conversation.woken",
                                        data={"reason": "snooze_ended"}).exists()


def test_wake_task_is_scheduled(settings):
    from apps.conversations.tasks import wake_snoozed

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert wake_snoozed.name in names


def test_a_customer_message_wakes_a_snoozed_conversation(world):
    services.conversation_set_status(conversation=world.mine, actor=world.agent, status="snoozed",
                                     snoozed_until=timezone.now() + timedelta(days=1))
    conversation, how = services.conversation_for_inbound(contact=world.mine.contact, number=world.mine.number)
    assert (conversation.pk, how) == (world.mine.pk, "existing")
    world.mine.refresh_from_db()
    assert (world.mine.status, world.mine.snoozed_until) == ("open", None)


# --- Labels, priority, bot ---------------------------------------------------------


def test_label_toggles_on_and_off(world):
    assert post(world.agent, "label_toggle", world.mine, {"label": world.label.pk}).status_code == 200
    assert list(world.mine.labels.all()) == [world.label]
    assert post(world.agent, "label_toggle", world.mine, {"label": world.label.pk}).status_code == 200
    assert list(world.mine.labels.all()) == []


def test_label_of_another_organisation_is_refused(world):
    response = post(world.agent, "label_toggle", world.mine, {"label": world.foreign_label.pk})
    assert response.status_code == 422 and "Unknown label." in response.content.decode()
    assert world.mine.labels.count() == 0


def test_priority_is_set_and_unknown_refused(world):
    assert post(world.agent, "priority", world.mine, {"priority": "3"}).status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.priority == 3
    response = post(world.agent, "priority", world.mine, {"priority": "9"})
    assert response.status_code == 422 and "Unknown priority." in response.content.decode()
    world.mine.refresh_from_db()
    assert world.mine.priority == 3


def test_bot_is_toggled(world):
    from apps.bot.tests.factories import BotSettingsFactory

    BotSettingsFactory(organization=world.org, enabled=True, api_key="sk-organisation")
    assert post(world.agent, "bot", world.mine, {"active": "1"}).status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.bot_active is True
    assert post(world.agent, "bot", world.mine, {"active": "0"}).status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.bot_active is False


def test_actions_on_a_foreign_conversation_change_nothing(world):
    for name, data in [("status", {"status": "resolved"}), ("label_toggle", {"label": world.foreign_label.pk}),
                       ("priority", {"priority": "4"}), ("bot", {"active": "1"}), ("note_add", {"body": "hi"}),
                       ("contact_update", {"name": "Hacked"}), ("contact_opt_out", {"opted_out": "1"})]:
        assert post(world.agent, name, world.foreign, data).status_code == 404, name
    world.foreign.refresh_from_db()
    assert (world.foreign.status, world.foreign.priority, world.foreign.bot_active) == ("open", 0, False)
    assert world.foreign.contact.name == "Zebulon Foreignperson" and not world.foreign.contact.opted_out
    assert not Note.objects.filter(conversation=world.foreign).exists()


# --- Notes and mentions ---------------------------------------------------------------


def test_note_with_a_mention_notifies_the_colleague(world, published, django_capture_on_commit_callbacks):
    response = post(world.agent, "note_add", world.unassigned, {"body": "@colleague can you check this?"},
                    commit=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    note = Note.objects.get(conversation=world.unassigned)
    assert list(note.mentions.all()) == [world.colleague]
    mention_events = [(d, g) for e, d, g in published if e == "note.created" and d.get("mentioned")]
    assert mention_events == [(mention_events[0][0], [groups.user(world.colleague.pk)])]
    assert mention_events[0][0]["id"] == note.pk and mention_events[0][0]["mentions"] == [world.colleague.pk]
    # Everyone who sees the conversation hears of the note as well.
    assert any(e == "note.created" and not d.get("mentioned") for e, d, _g in published)


def test_mention_of_someone_who_cannot_see_the_conversation_is_refused_and_the_text_kept(world):
    outsider = UserFactory(organization=world.org, username="outsider")
    body = "@outsider please look"
    response = post(world.agent, "note_add", world.mine, {"body": body})
    assert response.status_code == 422
    html = response.content.decode()
    assert "@outsider cannot see this conversation" in html
    assert body in html  # nothing lost
    assert not Note.objects.filter(conversation=world.mine).exists()
    assert outsider.mentioned_in_notes.count() == 0


def test_mentions_of_unknown_names_and_emails_are_plain_text(world):
    services.note_create(conversation=world.mine, author=world.agent, body="mail bob@example.com or @nobody.")
    assert Note.objects.get(conversation=world.mine).mentions.count() == 0


def test_empty_note_is_refused(world):
    response = post(world.agent, "note_add", world.mine, {"body": "   "})
    assert response.status_code == 422 and "A note cannot be empty." in response.content.decode()


def test_mention_suggestions_are_the_organisation_s_users(world):
    response = client_for(world.agent).get(reverse("inbox:mentions", args=[world.mine.pk]), {"q": "@co"})
    assert [r["username"] for r in response.json()["results"]] == ["colleague"]
    response = client_for(world.agent).get(reverse("inbox:mentions", args=[world.mine.pk]), {"q": ""})
    usernames = {r["username"] for r in response.json()["results"]}
    assert world.foreign_user.username not in usernames and "agent" in usernames


# --- Contact ---------------------------------------------------------------------------


def test_contact_name_and_attributes_are_saved(world, published, django_capture_on_commit_callbacks):
    response = post(world.agent, "contact_update", world.mine,
                    {"name": " Alice M. ", "attr_key": ["plan", "city", ""], "attr_value": ["gold", "Lisbon", ""]},
                    commit=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    contact = world.mine.contact
    contact.refresh_from_db()
    assert contact.name == "Alice M." and contact.attributes == {"plan": "gold", "city": "Lisbon"}
    assert "contact.updated" in [e for e, _d, _g in published]


def test_contact_attribute_without_a_name_is_refused_and_the_form_kept(world):
    response = post(world.agent, "contact_update", world.mine,
                    {"name": "New name", "attr_key": [""], "attr_value": ["orphan value"]})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Attribute 1: a value needs a name." in html and "orphan value" in html and "New name" in html
    world.mine.contact.refresh_from_db()
    assert world.mine.contact.name == "Alice Mine"


def test_opt_out_is_recorded_and_cleared(world):
    data = {"opted_out": "1", "reason": "asked by phone", "confirm": "1"}
    response = post(world.agent, "contact_opt_out", world.mine, data)
    assert response.status_code == 200
    contact = world.mine.contact
    contact.refresh_from_db()
    assert contact.opted_out and contact.opt_out_reason == "asked by phone" and contact.opted_out_at
    assert "asked by phone" in response.content.decode()
    assert post(world.agent, "contact_opt_out", world.mine, {"opted_out": "0"}).status_code == 200
    contact.refresh_from_db()
    assert not contact.opted_out


def test_contact_panel_lists_previous_conversations_the_user_may_see(world):
    old = ConversationFactory(organization=world.org, number=world.number, contact=world.mine.contact,
                              status=Conversation.Status.RESOLVED, assignee=world.agent)
    hidden = ConversationFactory(organization=world.org, number=world.number, contact=world.mine.contact,
                                 status=Conversation.Status.RESOLVED, assignee=world.colleague)
    MessageFactory(conversation=old)
    html = client_for(world.agent).get(reverse("inbox:panel_contact", args=[world.mine.pk])).content.decode()
    assert f"/inbox/c/{old.pk}/" in html and f"/inbox/c/{hidden.pk}/" not in html
    html = client_for(world.supervisor).get(reverse("inbox:panel_contact", args=[world.mine.pk])).content.decode()
    assert f"/inbox/c/{hidden.pk}/" in html


@pytest.mark.parametrize("bot_on, reason", [(False, "The bot is off in the bot settings"),
                                            (True, "OPENAI_API_KEY")])
def test_the_bot_is_not_switched_on_where_it_could_not_answer(world, settings, bot_on, reason):
    """The panel says why the bot cannot be switched on (the button disabled, the
    reason beside it), and a post anyway is refused with it, changing nothing."""
    from apps.bot.tests.factories import BotSettingsFactory

    settings.OPENAI_API_KEY = ""
    BotSettingsFactory(organization=world.org, enabled=bot_on)
    html = client_for(world.agent).get(reverse("inbox:panel_actions", args=[world.mine.pk])).content.decode()
    assert 'aria-describedby="bot-unavailable"' in html and "disabled" in html.split("Turn the bot on")[0][-300:]
    assert reason in html.split('id="bot-unavailable"')[1]
    response = post(world.agent, "bot", world.mine, {"active": "1"})
    assert response.status_code == 422
    assert reason in response.content.decode().split("panel-errors")[1].split("</div>")[0]
    world.mine.refresh_from_db()
    assert world.mine.bot_active is False
    assert not AuditLogEntry.objects.filter(conversation=world.mine).exists()
