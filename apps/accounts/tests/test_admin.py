"""Django admin: an organisation's admins see and change only their organisation's
rows; platform superusers see everything; nobody else gets in; secrets stay hidden."""

import pytest
from django.test import Client

from apps.accounts.models import Team, User
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.worlds import FOREIGN_NAME, FOREIGN_SECRET_TOKEN, build_world, fast_passwords  # noqa: F401
from apps.conversations.models import Conversation, Label

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "accounts/organization", "accounts/user", "accounts/team", "conversations/contact", "conversations/label",
    "conversations/conversation", "conversations/note", "conversations/cannedresponse",
    "conversations/auditlogentry", "messaging/message", "media/media", "message_templates/messagetemplate",
    "whatsapp/whatsappnumber",
]


@pytest.fixture
def world():
    return build_world()


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def platform_admin():
    return UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_org_admin_changelists_hold_only_their_organisation(world, changelist):
    response = admin_client(world.admin).get(f"/admin/{changelist}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert FOREIGN_NAME not in body
    assert world.foreign_org.name not in body
    assert FOREIGN_SECRET_TOKEN not in body
    assert "EAAG-home-secret-token-AAA111" not in body


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_platform_admin_sees_every_organisation_but_no_secret(world, platform_admin, changelist):
    response = admin_client(platform_admin).get(f"/admin/{changelist}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert FOREIGN_SECRET_TOKEN not in body
    assert "EAAG-home-secret-token-AAA111" not in body


def test_platform_admin_sees_foreign_conversations(world, platform_admin):
    body = admin_client(platform_admin).get("/admin/conversations/conversation/").content.decode()
    assert FOREIGN_NAME in body and "Alice Mine" in body


@pytest.mark.parametrize(
    "url",
    [
        "/admin/conversations/conversation/{conv}/change/",
        "/admin/conversations/conversation/{conv}/delete/",
        "/admin/conversations/conversation/{conv}/history/",
        "/admin/conversations/contact/{contact}/change/",
        "/admin/accounts/user/{user}/change/",
        "/admin/accounts/user/{user}/password/",
        "/admin/accounts/organization/{org}/change/",
    ],
)
def test_another_organisations_change_page_is_not_found(world, url):
    url = url.format(conv=world.foreign.pk, contact=world.foreign.contact.pk, user=world.foreign_user.pk,
                     org=world.foreign_org.pk)
    response = admin_client(world.admin).get(url)
    assert response.status_code == 404
    assert FOREIGN_NAME not in response.content.decode()


def test_posting_a_foreign_change_form_changes_nothing(world):
    response = admin_client(world.admin).post(
        f"/admin/conversations/conversation/{world.foreign.pk}/change/", {"status": "resolved", "priority": 4}
    )
    assert response.status_code == 404
    world.foreign.refresh_from_db()
    assert (world.foreign.status, world.foreign.priority) == ("open", 0)


def test_org_admin_creates_a_label_in_their_organisation_whatever_the_form_says(world):
    response = admin_client(world.admin).post(
        "/admin/conversations/label/add/", {"name": "urgent", "color": "#ff0000", "organization": world.foreign_org.pk}
    )
    # The foreign organisation is not a choice: the form is refused, nothing created.
    assert response.status_code == 200
    assert not Label.objects.filter(name="urgent").exists()
    response = admin_client(world.admin).post(
        "/admin/conversations/label/add/", {"name": "urgent", "color": "#ff0000", "organization": world.org.pk}
    )
    assert response.status_code == 302
    assert Label.objects.get(name="urgent").organization_id == world.org.pk


def test_foreign_key_choices_are_limited_to_the_organisation(world):
    body = admin_client(world.admin).get(f"/admin/conversations/conversation/{world.mine.pk}/change/").content.decode()
    assert f'value="{world.agent.pk}"' in body
    assert world.foreign_user.username not in body
    assert "foreign-label" not in body
    assert world.foreign_team.name not in body


def test_org_admin_creates_a_user_in_their_organisation_with_a_strong_password(world):
    client = admin_client(world.admin)
    weak = client.post("/admin/accounts/user/add/", {
        "username": "newagent", "organization": world.org.pk, "role": "agent",
        "password1": "password", "password2": "password", "usable_password": "true",
    })
    assert weak.status_code == 200
    assert not User.objects.filter(username="newagent").exists()
    strong = client.post("/admin/accounts/user/add/", {
        "username": "newagent", "organization": world.org.pk, "role": "agent", "teams": [world.team.pk],
        "password1": "violet-harbor-lantern-9", "password2": "violet-harbor-lantern-9", "usable_password": "true",
    })
    assert strong.status_code == 302
    user = User.objects.get(username="newagent")
    assert (user.organization_id, user.role, user.is_superuser) == (world.org.pk, "agent", False)
    assert list(user.teams.all()) == [world.team]


def test_org_admin_cannot_put_a_user_in_a_foreign_team(world):
    response = admin_client(world.admin).post("/admin/accounts/user/add/", {
        "username": "sneaky", "organization": world.org.pk, "role": "agent", "teams": [world.foreign_team.pk],
        "password1": "violet-harbor-lantern-9", "password2": "violet-harbor-lantern-9", "usable_password": "true",
    })
    assert response.status_code == 200
    assert not User.objects.filter(username="sneaky").exists()
    assert list(world.foreign_team.members.all()) == [world.foreign_user]


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_are_kept_out_of_admin(world, role):
    user = world.agent if role == "agent" else world.supervisor
    user.is_staff = True  # even with the staff flag
    user.save()
    client = admin_client(user)
    for url in ("/admin/accounts/user/", f"/admin/conversations/conversation/{world.mine.pk}/change/"):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert "Alice Mine" not in response.content.decode()
        assert world.colleague.email not in response.content.decode()


def test_non_staff_is_sent_to_the_admin_login(world):
    response = admin_client(world.agent).get("/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_org_admin_cannot_add_organisations(world):
    assert admin_client(world.admin).get("/admin/accounts/organization/add/").status_code == 403


def test_team_members_choices_are_of_the_organisation(world):
    body = admin_client(world.admin).get(f"/admin/accounts/team/{world.team.pk}/change/").content.decode()
    assert world.foreign_user.username not in body
    assert Team.objects.filter(organization=world.foreign_org).count() == 1


def test_org_admin_changes_their_own_conversation(world):
    response = admin_client(world.admin).get(f"/admin/conversations/conversation/{world.mine.pk}/change/")
    assert response.status_code == 200
    assert Conversation.objects.get(pk=world.mine.pk).organization_id == world.org.pk


def _organization_form(org, **changes):
    data = {
        "name": org.name, "timezone": org.timezone, "opt_out_keywords": '["STOP"]', "opt_in_keywords": '["START"]',
        "on_message_to_resolved": org.on_message_to_resolved, "mark_read_on_open": "on",
        "media_retention_days": "",
    }
    data.update(changes)
    return data


def test_org_admin_changes_their_organisations_time_zone_keywords_and_retention(world):
    """The organisation's own change page, as its admin (the slug read-only), opens and
    saves: time zone, opt-out and opt-in keywords, media retention."""
    client = admin_client(world.admin)
    url = f"/admin/accounts/organization/{world.org.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="timezone"' in body and 'name="opt_out_keywords"' in body and 'name="media_retention_days"' in body
    assert 'name="slug"' not in body and world.org.slug in body  # shown, not editable
    response = client.post(url, _organization_form(
        world.org, timezone="America/Sao_Paulo", opt_out_keywords='["PARAR", "STOP"]', media_retention_days="90",
        slug="stolen-slug"))
    assert response.status_code == 302, response.content.decode()[:3000]
    world.org.refresh_from_db()
    assert (world.org.timezone, world.org.opt_out_keywords, world.org.opt_in_keywords, world.org.media_retention_days
            ) == ("America/Sao_Paulo", ["PARAR", "STOP"], ["START"], 90)
    assert world.org.slug != "stolen-slug"
    # The list links to it, and another organisation's page stays not found.
    assert f'href="{url}"' in client.get("/admin/accounts/organization/").content.decode()
    assert client.get(f"/admin/accounts/organization/{world.foreign_org.pk}/change/").status_code == 404


def test_platform_admin_edits_the_slug(world, platform_admin):
    client = admin_client(platform_admin)
    url = f"/admin/accounts/organization/{world.org.pk}/change/"
    assert 'name="slug"' in client.get(url).content.decode()
    response = client.post(url, _organization_form(world.org, slug="renamed"))
    assert response.status_code == 302, response.content.decode()[:3000]
    world.org.refresh_from_db()
    assert world.org.slug == "renamed"
