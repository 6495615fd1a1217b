"""Canned responses are written in the inbox by any member of the organisation,
agents included: add, change, delete; a used shortcut or a bad one is refused and
nothing changes; another organisation's are never touched."""

import pytest
from django.urls import reverse

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.conversations.models import AuditLogEntry, CannedResponse
from apps.conversations.tests.factories import CannedResponseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def test_an_agent_adds_changes_and_deletes_canned_responses(client, world):
    client.force_login(world.agent)
    page = client.get(reverse("inbox:canned_page")).content.decode()
    assert 'value="hello"' in page  # the world's /hello
    response = client.post(reverse("inbox:canned_save"), {"shortcut": "/thanks", "body": "Thank you!"})
    assert response.status_code == 302
    thanks = CannedResponse.objects.get(organization=world.org, shortcut="thanks")
    assert thanks.body == "Thank you!"
    response = client.post(reverse("inbox:canned_save"), {"id": thanks.pk, "shortcut": "thanks", "body": "Thanks a lot!"})
    assert response.status_code == 302
    thanks.refresh_from_db()
    assert thanks.body == "Thanks a lot!"
    # The composer's "/" finds it.
    found = client.get(reverse("inbox:canned", args=[world.mine.pk]), {"q": "than"}).json()
    assert [item["shortcut"] for item in found["results"]] == ["thanks"]
    assert client.post(reverse("inbox:canned_delete"), {"id": thanks.pk}).status_code == 302
    assert not CannedResponse.objects.filter(pk=thanks.pk).exists()
    assert list(AuditLogEntry.objects.filter(action__startswith="canned.").values_list("action", flat=True)
                .order_by("id")) == ["canned.created", "canned.updated", "canned.deleted"]


@pytest.mark.parametrize("data,message", [
    ({"shortcut": "hello", "body": "again"}, "Shortcut: /hello is already used."),
    ({"shortcut": "two words", "body": "x"}, "Shortcut: letters, digits, hyphens and underscores only."),
    ({"shortcut": "ok", "body": "   "}, "Text: write the reply."),
])
def test_bad_canned_responses_are_refused_and_change_nothing(client, world, data, message):
    client.force_login(world.agent)
    before = list(CannedResponse.objects.values_list("shortcut", "body"))
    response = client.post(reverse("inbox:canned_save"), data)
    assert response.status_code == 422 and message in response.content.decode()
    assert list(CannedResponse.objects.values_list("shortcut", "body")) == before


def test_another_organisations_canned_responses_are_never_touched(client, world):
    foreign = CannedResponseFactory(shortcut="secret", body="foreign text")
    client.force_login(world.agent)
    assert "foreign text" not in client.get(reverse("inbox:canned_page")).content.decode()
    response = client.post(reverse("inbox:canned_save"), {"id": foreign.pk, "shortcut": "mine", "body": "taken"})
    assert response.status_code == 422
    client.post(reverse("inbox:canned_delete"), {"id": foreign.pk})
    foreign.refresh_from_db()
    assert (foreign.shortcut, foreign.body) == ("secret", "foreign text")


def test_the_composer_links_to_the_canned_responses(client, world):
    client.force_login(world.agent)
    html = client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    assert f'href="{reverse("inbox:canned_page")}"' in html
