"""The forbidden paths: other organisations, colleagues' conversations, supervisors'
powers, anonymous callers, hostile filter input, injected organisations, CSRF and
secrets in output."""

import pytest
from django.test import Client

from apps.accounts.tests.worlds import (
    FOREIGN_NAME,
    FOREIGN_SECRET_TOKEN,
    api_as,
    build_world,
    fast_passwords,  # noqa: F401
)
from apps.conversations.models import AuditLogEntry, Contact, Conversation, Label, Note

pytestmark = pytest.mark.django_db

SQL_FRAGMENTS = ["' OR 1=1 --", "1; DROP TABLE conversations_conversation", "1 OR 1=1", "status__in", "%' --",
                 "\x00", "-1", "0", "99999999999999999999999", "__all__", "id", "me' OR '1'='1"]
FILTERS = ["status", "assignee", "team", "number", "label", "priority", "q", "ordering"]


@pytest.fixture
def world():
    return build_world()


def assert_no_foreign_data(response, world):
    body = response.content.decode()
    assert FOREIGN_NAME not in body
    assert "foreign secret message text" not in body
    assert FOREIGN_SECRET_TOKEN not in body


# --- Hostile filter input ----------------------------------------------------------


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("value", SQL_FRAGMENTS)
def test_filters_refuse_or_ignore_sql_fragments(world, name, value):
    client = api_as(world.supervisor)
    everything = {row["id"] for row in client.get("/api/v1/conversations/").json()["results"]}
    response = client.get("/api/v1/conversations/", {name: value})
    assert response.status_code in (200, 400)
    assert_no_foreign_data(response, world)
    if response.status_code == 200:
        found = {row["id"] for row in response.json()["results"]}
        assert found <= everything
        if name == "q" and not value.isalnum():
            assert found == set()  # taken as text: no contact or message contains it
    assert Conversation.objects.count() == 4


@pytest.mark.parametrize("param", ["status__in", "organization", "organization_id", "contact__wa_id__regex", "o"])
def test_unknown_parameters_are_ignored(world, param):
    client = api_as(world.supervisor)
    everything = client.get("/api/v1/conversations/").json()["results"]
    response = client.get("/api/v1/conversations/", {param: world.foreign_org.pk})
    assert response.status_code == 200
    assert response.json()["results"] == everything


@pytest.mark.parametrize("ordering", ["contact__wa_id", "organization", "-id; DROP TABLE x", "?", "assignee__password"])
def test_unknown_ordering_is_400(world, ordering):
    response = api_as(world.supervisor).get("/api/v1/conversations/", {"ordering": ordering})
    assert response.status_code == 400


@pytest.mark.parametrize("value", SQL_FRAGMENTS)
def test_contact_and_canned_search_take_fragments_as_text(world, value):
    client = api_as(world.supervisor)
    for url in ("/api/v1/contacts/", "/api/v1/canned-responses/"):
        response = client.get(url, {"q": value})
        assert response.status_code in (200, 400)
        if response.status_code == 200 and not value.isalnum():
            rows = response.json()
            assert (rows["results"] if isinstance(rows, dict) else rows) == []
        assert_no_foreign_data(response, world)


# --- Other organisations and colleagues -----------------------------------------------


FOREIGN_URLS = [
    ("get", "/api/v1/conversations/{id}/", None),
    ("get", "/api/v1/conversations/{id}/messages/", None),
    ("get", "/api/v1/conversations/{id}/notes/", None),
    ("post", "/api/v1/conversations/{id}/notes/", {"body": "hello"}),
    ("post", "/api/v1/conversations/{id}/assign/", {"assignee_id": None}),
    ("post", "/api/v1/conversations/{id}/status/", {"status": "resolved"}),
    ("post", "/api/v1/conversations/{id}/labels/", {"label_ids": []}),
    ("post", "/api/v1/conversations/{id}/priority/", {"priority": 4}),
    ("post", "/api/v1/conversations/{id}/bot/", {"bot_active": True}),
]


def _snapshot(conversation):
    conversation.refresh_from_db()
    return (conversation.status, conversation.assignee_id, conversation.priority, conversation.bot_active,
            list(conversation.labels.values_list("pk", flat=True)), conversation.notes.count())


@pytest.mark.parametrize("method, url, data", FOREIGN_URLS)
def test_another_organisations_conversation_is_not_found(world, method, url, data):
    before = _snapshot(world.foreign)
    response = getattr(api_as(world.admin), method)(url.format(id=world.foreign.pk), data, format="json")
    assert response.status_code == 404
    assert_no_foreign_data(response, world)
    assert _snapshot(world.foreign) == before
    assert not AuditLogEntry.objects.filter(conversation=world.foreign).exists()


@pytest.mark.parametrize("method, url, data", FOREIGN_URLS)
def test_agent_cannot_open_a_colleagues_conversation(world, method, url, data):
    before = _snapshot(world.colleagues)
    response = getattr(api_as(world.agent), method)(url.format(id=world.colleagues.pk), data, format="json")
    assert response.status_code == 404
    assert "Bob Colleague" not in response.content.decode()
    assert _snapshot(world.colleagues) == before


def test_foreign_contact_is_not_found_nor_changed(world):
    contact = world.foreign.contact
    client = api_as(world.admin)
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
    response = client.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Hijacked", "opted_out": True}, format="json")
    assert response.status_code == 404
    contact.refresh_from_db()
    assert (contact.name, contact.opted_out) == (FOREIGN_NAME, False)


def test_lists_hold_nothing_foreign(world):
    client = api_as(world.admin)
    for url in ("/api/v1/conversations/", "/api/v1/contacts/", "/api/v1/labels/", "/api/v1/users/",
                "/api/v1/teams/", "/api/v1/canned-responses/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_foreign_data(response, world)
        assert "foreign-label" not in response.content.decode()
        assert world.foreign_user.username not in response.content.decode()


# --- No input moves a row to another organisation ---------------------------------------


def test_assigning_to_a_foreign_user_or_team_is_refused(world):
    client = api_as(world.supervisor)
    url = f"/api/v1/conversations/{world.unassigned.pk}/assign/"
    assert client.post(url, {"assignee_id": world.foreign_user.pk}, format="json").status_code == 400
    assert client.post(url, {"assignee_id": None, "team_id": world.foreign_team.pk}, format="json").status_code == 400
    world.unassigned.refresh_from_db()
    assert (world.unassigned.assignee_id, world.unassigned.team_id) == (None, None)


def test_a_foreign_label_is_refused(world):
    response = api_as(world.supervisor).post(
        f"/api/v1/conversations/{world.mine.pk}/labels/", {"label_ids": [world.label.pk, world.foreign_label.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert world.mine.labels.count() == 0


@pytest.mark.parametrize("method, url, data", FOREIGN_URLS[3:])
def test_organization_in_the_body_is_ignored(world, method, url, data):
    from apps.bot.tests.factories import BotSettingsFactory

    BotSettingsFactory(organization=world.org, enabled=True, api_key="sk-organisation")  # the bot can answer here
    payload = {**data, "organization": world.foreign_org.pk, "organization_id": world.foreign_org.pk}
    response = getattr(api_as(world.supervisor), method)(url.format(id=world.mine.pk), payload, format="json")
    assert response.status_code in (200, 201)
    world.mine.refresh_from_db()
    assert world.mine.organization_id == world.org.pk
    assert Note.objects.exclude(organization=world.org).count() == 0
    assert set(AuditLogEntry.objects.values_list("organization_id", flat=True)) == {world.org.pk}


def test_organization_in_a_contact_update_is_ignored(world):
    contact = world.mine.contact
    response = api_as(world.agent).patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"name": "Alice", "organization": world.foreign_org.pk, "organization_id": world.foreign_org.pk,
         "wa_id": "999"},
        format="json",
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.organization_id, contact.wa_id, contact.name) == (world.org.pk, world.mine.contact.wa_id, "Alice")
    assert Contact.objects.filter(organization=world.foreign_org).count() == 1
    assert Label.objects.filter(organization=world.foreign_org).count() == 1


# --- Anonymous callers -------------------------------------------------------------------

ANONYMOUS = [
    ("get", "/api/v1/conversations/"), ("get", "/api/v1/conversations/{id}/"),
    ("get", "/api/v1/conversations/{id}/messages/"), ("get", "/api/v1/conversations/{id}/notes/"),
    ("post", "/api/v1/conversations/{id}/notes/"), ("post", "/api/v1/conversations/{id}/assign/"),
    ("post", "/api/v1/conversations/{id}/status/"), ("post", "/api/v1/conversations/{id}/labels/"),
    ("post", "/api/v1/conversations/{id}/priority/"), ("post", "/api/v1/conversations/{id}/bot/"),
    ("get", "/api/v1/contacts/"), ("get", "/api/v1/contacts/{contact}/"), ("patch", "/api/v1/contacts/{contact}/"),
    ("get", "/api/v1/labels/"), ("get", "/api/v1/canned-responses/"), ("get", "/api/v1/users/"),
    ("get", "/api/v1/teams/"), ("get", "/api/v1/me/"), ("patch", "/api/v1/me/"),
]


@pytest.mark.parametrize("method, url", ANONYMOUS)
def test_anonymous_calls_are_refused(world, method, url):
    from rest_framework.test import APIClient

    response = getattr(APIClient(), method)(
        url.format(id=world.mine.pk, contact=world.mine.contact.pk), {"body": "x", "status": "resolved"}, format="json"
    )
    assert response.status_code in (401, 403)
    assert "Alice Mine" not in response.content.decode()
    assert Note.objects.count() == 0
    world.mine.refresh_from_db()
    assert world.mine.status == "open"


def test_token_authentication(world):
    from rest_framework.test import APIClient

    from apps.accounts.tokens import token_issue

    _, key = token_issue(user=world.agent, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").json()["username"] == "agent"
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert "agent" not in response.content.decode()


# --- CSRF and secrets ----------------------------------------------------------------------


def test_session_post_without_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.agent)
    response = client.post(
        f"/api/v1/conversations/{world.mine.pk}/notes/", {"body": "hello"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Note.objects.count() == 0


def test_session_post_with_csrf_token_is_accepted(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.agent)
    client.get("/api/v1/me/")  # any page: the CSRF cookie
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.post(
        f"/api/v1/conversations/{world.mine.pk}/notes/", {"body": "hello"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201
    assert Note.objects.count() == 1


def test_access_tokens_never_appear_in_api_output(world):
    client = api_as(world.admin)
    urls = ["/api/v1/conversations/", f"/api/v1/conversations/{world.mine.pk}/",
            f"/api/v1/conversations/{world.mine.pk}/messages/", "/api/v1/contacts/", "/api/v1/users/",
            "/api/v1/me/", "/api/v1/labels/", "/api/schema/"]
    for url in urls:
        body = client.get(url).content.decode()
        assert "EAAG-home-secret-token-AAA111" not in body, url
        assert FOREIGN_SECRET_TOKEN not in body, url
        assert "test-app-secret" not in body, url
