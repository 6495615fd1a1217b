"""Helpers of the inbox tests (their fixtures are in conftest.py)."""

from django.test import Client
from django.urls import reverse


def client_for(user) -> Client:
    """A new client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def partial(client, message) -> str:
    """The thread's partial of one message, as `client` gets it."""
    response = client.get(reverse("inbox:message", args=[message.pk]))
    assert response.status_code == 200
    return response.content.decode()
