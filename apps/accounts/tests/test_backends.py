"""The session's user comes with their organisation, and sessions signed in under the
earlier backend's name stay signed in."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.backends import BACKEND, EARLIER_BACKEND
from apps.accounts.tests.factories import UserFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def test_a_page_reads_the_user_and_their_organisation_in_one_query(client):
    user = UserFactory(organization=WhatsAppNumberFactory().organization)
    client.force_login(user)
    assert client.session[BACKEND_SESSION_KEY] == BACKEND
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/inbox/").status_code == 200
    users = [q["sql"] for q in queries.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    organizations = [q["sql"] for q in queries.captured_queries if 'FROM "accounts_organization"' in q["sql"]]
    assert len(users) == 1 and 'JOIN "accounts_organization"' in users[0]
    assert organizations == []


def test_a_session_of_the_earlier_backend_stays_signed_in_under_the_new_name(client):
    user = UserFactory(organization=WhatsAppNumberFactory().organization)
    client.force_login(user, backend=EARLIER_BACKEND)
    assert client.session[BACKEND_SESSION_KEY] == EARLIER_BACKEND
    response = client.get("/inbox/")
    assert response.status_code == 200 and response.context["user"] == user
    assert client.session[BACKEND_SESSION_KEY] == BACKEND


def test_an_inactive_user_is_signed_out(client):
    user = UserFactory(organization=WhatsAppNumberFactory().organization)
    client.force_login(user)
    user.is_active = False
    user.save()
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/login" in response["Location"]
