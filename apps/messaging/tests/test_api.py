"""The integration API: POST /api/v1/messages/ and GET /api/v1/messages/{id}/."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.tokens import token_issue
from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.conversations.models import Contact, Conversation
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(simulator):
    return AdminFactory()


@pytest.fixture
def number(admin):
    return WhatsAppNumberFactory(organization=admin.organization)


def client_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user, name='test')[1]}")
    return client


def template_body(number, template, **extra):
    return {"number": number.phone_number_id, "to": "+55 11 99999-0001", "type": "template",
            "template": {"name": template.name, "language": "en_US", "parameters": ["Ann", "7"]}, **extra}


def test_send_a_template_creates_contact_and_conversation(admin, number):
    template = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id)
    response = client_for(admin).post("/api/v1/messages/", template_body(number, template), format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    message = Message.objects.get(pk=data["id"])
    assert data["status"] == "pending"
    assert data["status_url"].endswith(f"/api/v1/messages/{message.pk}/")
    assert message.conversation.contact.wa_id == "5511999990001"
    assert message.author_type == "integration"
    detail = client_for(admin).get(f"/api/v1/messages/{message.pk}/").json()
    assert (detail["status"], detail["wamid"]) == ("sent", SimulatedMessage.objects.get().wamid)


def test_idempotency_key(admin, number):
    template = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id)
    body = template_body(number, template, idempotency_key="order-1-shipped")
    first = client_for(admin).post("/api/v1/messages/", body, format="json").json()
    second = client_for(admin).post("/api/v1/messages/", body, format="json").json()
    assert first["id"] == second["id"]
    assert (Message.objects.count(), SimulatedMessage.objects.count()) == (1, 1)


def test_another_organisations_number_is_refused(admin, number):
    other = WhatsAppNumberFactory()
    response = client_for(admin).post(
        "/api/v1/messages/", {"number": other.phone_number_id, "to": "5511999990001", "type": "text",
                              "text": {"body": "Hi"}}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "number"
    assert (Message.objects.count(), Contact.objects.count(), Conversation.objects.count()) == (0, 0, 0)


def test_validation_error_names_the_field(admin, number):
    template = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id)
    body = template_body(number, template)
    body["template"]["parameters"] = ["only one"]
    response = client_for(admin).post("/api/v1/messages/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "template.parameters"
    assert (Message.objects.count(), Contact.objects.count(), Conversation.objects.count()) == (0, 0, 0)


def test_text_to_a_new_contact_is_refused_outside_the_window(admin, number):
    response = client_for(admin).post(
        "/api/v1/messages/", {"number": number.phone_number_id, "to": "5511999990001", "type": "text",
                              "text": {"body": "x" * 4097}}, format="json")
    assert response.json()["field"] == "text.body"
    response = client_for(admin).post(
        "/api/v1/messages/", {"number": number.phone_number_id, "to": "5511999990001", "type": "text",
                              "text": {"body": "Hi"}}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "window_closed")
    assert Contact.objects.count() == 0


def test_agents_may_not_use_the_integration_api(admin, number):
    agent = UserFactory(organization=admin.organization)
    response = client_for(agent).post("/api/v1/messages/", {"number": number.phone_number_id}, format="json")
    assert response.status_code == 403


def test_a_message_of_another_organisation_is_404(admin, number):
    template = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id)
    message_id = client_for(admin).post("/api/v1/messages/", template_body(number, template), format="json").json()["id"]
    stranger = AdminFactory()
    assert client_for(stranger).get(f"/api/v1/messages/{message_id}/").status_code == 404


def test_the_schema_documents_the_endpoint(admin):
    response = client_for(admin).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/messages/" in response.content
