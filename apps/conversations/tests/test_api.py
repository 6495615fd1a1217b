from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.conversations.models import AuditLogEntry, Conversation, Note
from apps.conversations.tests.factories import ConversationFactory, LabelFactory
from apps.messaging.tests.factories import MessageFactory
from apps.realtime import groups

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a request and then its commit hooks (live events leave on commit)."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_agent_lists_own_and_unassigned_of_their_team(world):
    response = api_as(world.agent).get("/api/v1/conversations/")
    assert response.status_code == 200
    assert ids(response) == {world.mine.pk, world.unassigned.pk}


def test_supervisor_lists_every_conversation_of_the_organisation(world):
    response = api_as(world.supervisor).get("/api/v1/conversations/")
    assert ids(response) == {world.mine.pk, world.colleagues.pk, world.unassigned.pk}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("assignee=me", set()),  # the supervisor has none
        ("assignee=none", {"unassigned"}),
        ("status=open", {"mine", "colleagues", "unassigned"}),
        ("status=resolved", set()),
        ("status=open,pending", {"mine", "colleagues", "unassigned"}),
        ("q=alice", {"mine"}),
        ("q=parcel", {"mine"}),
        ("priority=3", set()),
        ("team=none", {"mine", "colleagues", "unassigned"}),
    ],
)
def test_conversation_filters(world, query, expected):
    response = api_as(world.supervisor).get(f"/api/v1/conversations/?{query}")
    assert response.status_code == 200
    assert ids(response) == {getattr(world, name).pk for name in expected}


def test_agent_filters_their_own(world):
    assert ids(api_as(world.agent).get("/api/v1/conversations/?assignee=me")) == {world.mine.pk}
    assert ids(api_as(world.agent).get("/api/v1/conversations/?assignee=none")) == {world.unassigned.pk}


def test_filters_by_assignee_id_label_number_and_phone(world):
    world.colleagues.labels.add(world.label)
    client = api_as(world.supervisor)
    assert ids(client.get(f"/api/v1/conversations/?assignee={world.colleague.pk}")) == {world.colleagues.pk}
    assert ids(client.get(f"/api/v1/conversations/?label={world.label.pk}")) == {world.colleagues.pk}
    assert ids(client.get(f"/api/v1/conversations/?number={world.number.pk}")) == {
        world.mine.pk, world.colleagues.pk, world.unassigned.pk
    }
    phone = world.unassigned.contact.phone
    assert ids(client.get("/api/v1/conversations/", {"q": phone[-6:]})) == {world.unassigned.pk}


def test_ordering_by_priority(world):
    Conversation.objects.filter(pk=world.unassigned.pk).update(priority=4)
    response = api_as(world.supervisor).get("/api/v1/conversations/?ordering=-priority")
    assert response.json()["results"][0]["id"] == world.unassigned.pk


def test_detail_of_a_visible_conversation(world):
    response = api_as(world.agent).get(f"/api/v1/conversations/{world.mine.pk}/")
    assert response.status_code == 200
    assert response.json()["contact"]["name"] == "Alice Mine"
    assert response.json()["assignee_id"] == world.agent.pk


def test_supervisor_assigns_to_an_agent_and_team(world, published, committed):
    response = committed(
        api_as(world.supervisor).post,
        f"/api/v1/conversations/{world.unassigned.pk}/assign/",
        {"assignee_id": world.colleague.pk, "team_id": world.team.pk},
        format="json",
    )
    assert response.status_code == 200
    world.unassigned.refresh_from_db()
    assert (world.unassigned.assignee_id, world.unassigned.team_id) == (world.colleague.pk, world.team.pk)
    entry = AuditLogEntry.objects.get(conversation=world.unassigned, action="conversation.assigned")
    assert entry.actor == world.supervisor
    assert entry.data == {
        "from": {"assignee_id": None, "team_id": None},
        "to": {"assignee_id": world.colleague.pk, "team_id": world.team.pk},
    }
    [(event, data, sent_to), (lost_event, lost_data, lost_to)] = published
    assert event == "conversation.updated" and data["assignee_id"] == world.colleague.pk
    assert set(sent_to) == {groups.org_supervisors(world.org.pk), groups.user(world.colleague.pk)}
    # The number's agents saw it unassigned: they hear it left, and nothing more of it.
    assert (lost_event, lost_data, lost_to) == (
        "conversation.updated", {"id": world.unassigned.pk, "removed": True}, [groups.number(world.number.pk)]
    )


def test_agent_takes_an_unassigned_conversation(world):
    response = api_as(world.agent).post(
        f"/api/v1/conversations/{world.unassigned.pk}/assign/", {"assignee_id": world.agent.pk}, format="json"
    )
    assert response.status_code == 200
    world.unassigned.refresh_from_db()
    assert world.unassigned.assignee_id == world.agent.pk


def test_agent_may_not_assign_someone_else(world):
    response = api_as(world.agent).post(
        f"/api/v1/conversations/{world.unassigned.pk}/assign/", {"assignee_id": world.colleague.pk}, format="json"
    )
    assert response.status_code == 403
    world.unassigned.refresh_from_db()
    assert world.unassigned.assignee_id is None
    assert not AuditLogEntry.objects.filter(conversation=world.unassigned).exists()


def test_set_status_snoozed_needs_a_future_time(world, published, committed):
    client = api_as(world.agent)
    url = f"/api/v1/conversations/{world.mine.pk}/status/"
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert committed(client.post, url, {"status": "snoozed", "snoozed_until": past}, format="json").status_code == 400
    world.mine.refresh_from_db()
    assert world.mine.status == "open" and published == []

    until = timezone.now() + timedelta(hours=2)
    response = committed(client.post, url, {"status": "snoozed", "snoozed_until": until.isoformat()}, format="json")
    assert response.status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.status == "snoozed" and world.mine.snoozed_until == until
    assert [e[0] for e in published] == ["conversation.updated"]
    assert AuditLogEntry.objects.get(conversation=world.mine).data["to"] == "snoozed"


def test_resolve_then_reopen(world):
    client = api_as(world.agent)
    url = f"/api/v1/conversations/{world.mine.pk}/status/"
    assert client.post(url, {"status": "resolved"}, format="json").json()["status"] == "resolved"
    world.mine.refresh_from_db()
    assert world.mine.resolved_at is not None
    assert client.post(url, {"status": "open"}, format="json").json()["resolved_at"] is None


def test_reopen_refused_while_another_conversation_is_active(world):
    world.mine.status = "resolved"
    world.mine.save()
    ConversationFactory(organization=world.org, number=world.number, contact=world.mine.contact, assignee=world.agent)
    response = api_as(world.supervisor).post(
        f"/api/v1/conversations/{world.mine.pk}/status/", {"status": "open"}, format="json"
    )
    assert response.status_code == 400
    world.mine.refresh_from_db()
    assert world.mine.status == "resolved"


def test_set_labels_priority_and_bot(world, published, committed):
    from apps.bot.tests.factories import BotSettingsFactory

    BotSettingsFactory(organization=world.org, enabled=True, api_key="sk-organisation")  # a bot that can answer
    client = api_as(world.agent)
    base = f"/api/v1/conversations/{world.mine.pk}"
    response = committed(client.post, f"{base}/labels/", {"label_ids": [world.label.pk]}, format="json")
    assert response.status_code == 200
    assert [label["name"] for label in response.json()["labels"]] == ["vip"]
    assert committed(client.post, f"{base}/priority/", {"priority": 3}, format="json").json()["priority"] == 3
    assert committed(client.post, f"{base}/bot/", {"bot_active": True}, format="json").json()["bot_active"] is True
    world.mine.refresh_from_db()
    assert (list(world.mine.labels.all()), world.mine.priority, world.mine.bot_active) == ([world.label], 3, True)
    assert list(AuditLogEntry.objects.filter(conversation=world.mine).order_by("id").values_list("action", flat=True)) == [
        "conversation.labels_changed", "conversation.priority_changed", "conversation.bot_enabled"
    ]
    assert [event for event, _, _ in published] == ["conversation.updated"] * 3


def test_invalid_priority_and_status_are_refused(world):
    client = api_as(world.agent)
    base = f"/api/v1/conversations/{world.mine.pk}"
    assert client.post(f"{base}/priority/", {"priority": 9}, format="json").status_code == 400
    assert client.post(f"{base}/status/", {"status": "deleted"}, format="json").status_code == 400
    world.mine.refresh_from_db()
    assert (world.mine.priority, world.mine.status) == (0, "open")


def test_notes_list_and_create(world, published, committed):
    client = api_as(world.agent)
    url = f"/api/v1/conversations/{world.mine.pk}/notes/"
    response = committed(client.post, url, {"body": "  Customer called twice  "}, format="json")
    assert response.status_code == 201
    assert response.json()["body"] == "Customer called twice"
    assert response.json()["author_id"] == world.agent.pk
    assert [n["body"] for n in client.get(url).json()] == ["Customer called twice"]
    note = Note.objects.get()
    assert note.organization_id == world.org.pk
    assert AuditLogEntry.objects.get(action="note.created").data == {"note_id": note.pk}
    [(event, data, sent_to)] = published
    assert event == "note.created" and data["id"] == note.pk
    assert set(sent_to) == {groups.org_supervisors(world.org.pk), groups.user(world.agent.pk)}


def test_empty_note_is_refused(world):
    response = api_as(world.agent).post(
        f"/api/v1/conversations/{world.mine.pk}/notes/", {"body": "   "}, format="json"
    )
    assert response.status_code == 400
    assert Note.objects.count() == 0


def test_messages_keyset_pages(world):
    start = timezone.now() - timedelta(hours=1)
    conversation = world.colleagues
    made = [MessageFactory(conversation=conversation, text=f"m{i}", timestamp=start + timedelta(minutes=i)) for i in range(5)]
    # Two messages at the same instant are told apart by id.
    made.append(MessageFactory(conversation=conversation, text="m5", timestamp=made[-1].timestamp))
    client = api_as(world.supervisor)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    newest = client.get(url, {"limit": 2}).json()
    assert [m["text"] for m in newest["results"]] == ["m4", "m5"]
    assert newest["after"] is None
    older = client.get(url, {"limit": 2, "before": newest["before"]}).json()
    assert [m["text"] for m in older["results"]] == ["m2", "m3"]
    oldest = client.get(url, {"limit": 2, "before": older["before"]}).json()
    assert [m["text"] for m in oldest["results"]] == ["m0", "m1"]
    assert oldest["before"] is None
    newer = client.get(url, {"limit": 3, "after": oldest["after"]}).json()
    assert [m["text"] for m in newer["results"]] == ["m2", "m3", "m4"]


@pytest.mark.parametrize("cursor", ["garbage", "' OR 1=1 --", "MjAyNHwx", "bm90LWEtZGF0ZXwx"])
def test_messages_bad_cursor_is_400(world, cursor):
    response = api_as(world.agent).get(f"/api/v1/conversations/{world.mine.pk}/messages/", {"before": cursor})
    assert response.status_code == 400


def test_contacts_list_detail_and_update(world, published, committed):
    client = api_as(world.agent)
    names = {row["name"] for row in client.get("/api/v1/contacts/").json()["results"]}
    assert names == {"Alice Mine", "Carol Unassigned"}
    contact = world.mine.contact
    response = committed(
        client.patch,
        f"/api/v1/contacts/{contact.pk}/",
        {"name": "Alice M.", "attributes": {"plan": "gold"}, "opted_out": True, "opt_out_reason": "asked by phone"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["attributes"], body["opted_out"], body["opt_out_reason"]) == (
        "Alice M.", {"plan": "gold"}, True, "asked by phone"
    )
    contact.refresh_from_db()
    assert contact.opted_out and contact.opted_out_at is not None
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["contact.updated", "contact.opted_out"]
    assert [event for event, _, _ in published] == ["contact.updated", "contact.updated"]


def test_contact_attributes_must_be_flat(world):
    contact = world.mine.contact
    response = api_as(world.agent).patch(
        f"/api/v1/contacts/{contact.pk}/", {"attributes": {"nested": {"a": 1}}}, format="json"
    )
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.attributes == {}


def test_labels_and_canned_responses(world):
    client = api_as(world.agent)
    assert [label["name"] for label in client.get("/api/v1/labels/").json()] == ["vip"]
    assert client.get("/api/v1/canned-responses/").json() == [
        {"id": world.canned.pk, "shortcut": "hello", "body": world.canned.body}
    ]
    assert client.get("/api/v1/canned-responses/?q=nothing-like-it").json() == []


def test_users_and_me(world, published, committed):
    client = api_as(world.agent)
    usernames = {row["username"] for row in client.get("/api/v1/users/").json()}
    assert usernames == {"agent", "colleague", "orgadmin", "supervisor"}
    me = client.get("/api/v1/me/").json()
    assert (me["username"], me["organization"]["id"], me["team_ids"]) == ("agent", world.org.pk, [world.team.pk])
    response = committed(client.patch, "/api/v1/me/", {"availability": "online"}, format="json")
    assert response.status_code == 200 and response.json()["availability"] == "online"
    world.agent.refresh_from_db()
    assert world.agent.availability == "online"
    assert published == [
        ("user.availability", {"user_id": world.agent.pk, "availability": "online"}, [groups.org_members(world.org.pk)])
    ]
    assert client.patch("/api/v1/me/", {"availability": "dancing"}, format="json").status_code == 400


def test_schema_and_docs_are_served(world):
    client = api_as(world.agent)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/conversations/{id}/assign/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_deactivated_user_cannot_be_assigned(world):
    gone = UserFactory(organization=world.org, is_active=False)
    response = api_as(world.supervisor).post(
        f"/api/v1/conversations/{world.unassigned.pk}/assign/", {"assignee_id": gone.pk}, format="json"
    )
    assert response.status_code == 400
    world.unassigned.refresh_from_db()
    assert world.unassigned.assignee_id is None


def test_labels_of_another_conversation_unchanged_by_foreign_label(world):
    other = LabelFactory(organization=world.org, name="other")
    world.mine.labels.add(other)
    response = api_as(world.agent).post(
        f"/api/v1/conversations/{world.mine.pk}/labels/", {"label_ids": [world.foreign_label.pk]}, format="json"
    )
    assert response.status_code == 400
    assert list(world.mine.labels.all()) == [other]
    assert not AuditLogEntry.objects.exists()


def test_agents_who_lose_a_conversation_hear_only_its_stub(world, published, committed):
    """Reassignment tells the groups that lost the conversation to drop it, without its
    contact, phone or preview: they may no longer see it."""
    response = committed(
        api_as(world.supervisor).post,
        f"/api/v1/conversations/{world.unassigned.pk}/assign/",
        {"assignee_id": world.colleague.pk},
        format="json",
    )
    assert response.status_code == 200
    to_lost = [data for _event, data, sent_to in published if groups.number(world.number.pk) in sent_to]
    assert to_lost == [{"id": world.unassigned.pk, "removed": True}]
