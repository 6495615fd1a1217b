"""Serving files: only to those who may see the conversation, through short-lived links."""

import time

import pytest
from django.core import signing

from apps.accounts.tests.factories import SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.media import selectors
from apps.media.tests.factories import StoredMediaFactory, UploadFactory
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    conversation = ConversationFactory()
    mine = UserFactory(organization=conversation.organization)
    TeamFactory(organization=conversation.organization, members=[mine], numbers=[conversation.number])
    other_team_agent = UserFactory(organization=conversation.organization)
    TeamFactory(organization=conversation.organization, members=[other_team_agent])
    message = MessageFactory(conversation=conversation, type="document", text="", content={})
    media = StoredMediaFactory(message=message)
    return media, mine, other_team_agent


def test_an_allowed_agent_is_redirected_to_a_signed_link_that_serves_the_file(client, setup):
    media, agent, _ = setup
    client.force_login(agent)

    response = client.get(f"/media/m/{media.pk}/")

    assert response.status_code == 302
    assert response["Cache-Control"].startswith("max-age=0")
    link = response["Location"]
    assert link.startswith("/media/") and link != f"/media/m/{media.pk}/"
    client.logout()  # the link itself is the permission, for a short time
    served = client.get(link)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == b"%PDF-1.4 abc"
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


def test_an_agent_of_another_team_gets_no_file(client, setup):
    media, _, outsider = setup
    client.force_login(outsider)

    assert client.get(f"/media/m/{media.pk}/").status_code == 404
    assert client.get(f"/media/m/{media.pk}/thumbnail/").status_code == 404
    assert selectors.media_url_for(media=media, user=outsider) is None


def test_a_user_of_another_organisation_gets_no_file(client, setup):
    media, _, _ = setup
    client.force_login(SupervisorFactory())
    assert client.get(f"/media/m/{media.pk}/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, setup):
    media, _, _ = setup
    response = client.get(f"/media/m/{media.pk}/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_a_tampered_link_is_refused(client, setup):
    media, agent, _ = setup
    link = selectors.media_url_for(media=media, user=agent)
    token = link.split("/")[2]
    other_id = token.replace(f"{media.pk}.file", f"{media.pk + 1}.file", 1)

    assert client.get(f"/media/{other_id}/").status_code == 403
    assert client.get(f"/media/{token[:-2]}xx/").status_code == 403
    assert client.get(link).status_code == 200


def test_an_expired_link_is_refused(client, setup, settings, monkeypatch):
    media, agent, _ = setup
    settings.MEDIA_URL_TTL = 300
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 301)
    old_link = selectors.media_url_for(media=media, user=agent)
    monkeypatch.setattr(signing.time, "time", real_time)

    response = client.get(old_link)

    assert response.status_code == 403
    assert response.content == b"This link is invalid or has expired."


def test_a_file_that_expired_answers_gone(client, setup):
    media, agent, _ = setup
    link = selectors.media_url_for(media=media, user=agent)
    media.file.delete(save=False)
    media.state = "expired"
    media.save()
    client.force_login(agent)

    response = client.get(f"/media/m/{media.pk}/")

    assert response.status_code == 410
    assert response.content == b"This file is not available: Expired (retention)."
    assert client.get(link).status_code == 404


def test_an_unsent_upload_is_seen_by_its_uploader_and_supervisors_only(client):
    uploader = UserFactory()
    media = UploadFactory(organization=uploader.organization, uploaded_by=uploader)
    colleague = UserFactory(organization=uploader.organization)
    supervisor = SupervisorFactory(organization=uploader.organization)

    assert selectors.media_url_for(media=media, user=uploader) is not None
    assert selectors.media_url_for(media=media, user=supervisor) is not None
    assert selectors.media_url_for(media=media, user=colleague) is None


def test_api_detail_gives_state_and_link(client, setup):
    media, agent, outsider = setup
    client.force_login(agent)
    body = client.get(f"/api/v1/media/{media.pk}/").json()
    assert (body["media"]["state"], body["media"]["filename"]) == ("stored", "invoice.pdf")
    assert body["link"].startswith("/media/")
    client.force_login(outsider)
    assert client.get(f"/api/v1/media/{media.pk}/").status_code == 404
