"""Django admin's index names each section for people, not by its Python package."""

import pytest
from django.utils import translation

from apps.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECTIONS = ["Organisations and people", "AI bot", "Contacts and conversations", "Webhook deliveries", "Media files",
            "Message templates", "Messages", "Business notifications", "WhatsApp numbers"]


def test_admin_sections_have_readable_names(client):
    client.force_login(UserFactory(organization=None, is_staff=True, is_superuser=True))
    html = client.get("/admin/").content.decode()
    for name in SECTIONS:
        assert f'class="section" title="Models in the {name} application">{name}</a>' in html, name
    for raw in ("Message_Templates", "Message templates application\">Message_templates", ">Whatsapp<", ">Inbound<"):
        assert raw not in html


def test_admin_sections_in_brazilian_portuguese(client):
    client.force_login(UserFactory(organization=None, is_staff=True, is_superuser=True))
    client.cookies["django_language"] = "pt-br"
    with translation.override("pt-br"):
        html = client.get("/admin/").content.decode()
    assert "Contatos e conversas" in html and "Modelos de mensagem" in html
