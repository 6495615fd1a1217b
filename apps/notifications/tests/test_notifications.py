"""Business-event notifications: POST /api/v1/notifications/ against the simulator."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apps.accounts.tokens import token_issue
from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.conversations.models import Contact, Conversation
from apps.conversations.tests.factories import ContactFactory
from apps.notifications.models import Notification, NotificationRule
from apps.notifications.services import notification_send
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message, Status
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+55 11 98888-0001"
WA_ID = "5511988880001"


@pytest.fixture
def admin(simulator):
    return AdminFactory()


@pytest.fixture
def rule(admin):
    number = WhatsAppNumberFactory(organization=admin.organization)
    template = MessageTemplateFactory(
        organization=admin.organization, waba_id=number.waba_id, name="order_status",
        components=[{"type": "BODY", "text": "Hi {{1}}, order {{2}} is now {{3}}."},
                    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track",
                                                     "url": "https://s.test/t/{{1}}"}]}],
        parameter_mapping={"body.1": "contact.name"},
    )
    return NotificationRule.objects.create(
        organization=admin.organization, event_type="order_status_changed", number=number, template=template,
        parameter_mapping={"body.1": "event.customer.first_name", "body.2": "event.order_id",
                           "body.3": "event.status", "button.0": "event.order_id"},
    )


def client_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user, name='test')[1]}")
    return client


def body(key="evt-1", **changes):
    return {"event_type": "order_status_changed", "phone": PHONE, "idempotency_key": key,
            "fields": {"order_id": "A-42", "status": "shipped", "customer": {"first_name": "Ann"}}, **changes}


def test_an_event_sends_the_mapped_template_once(admin, rule, published):
    client = client_for(admin)
    first = client.post("/api/v1/notifications/", body(), format="json")
    assert first.status_code == 202, first.json()
    data = first.json()
    notification = Notification.objects.get()
    message = Message.objects.get()
    assert (data["id"], data["status"], data["duplicate"], data["message_id"]) == (
        notification.pk, "accepted", False, message.pk)
    assert (message.author_type, message.type, message.status) == ("integration", "template", Status.SENT)
    assert message.text == "Hi Ann, order A-42 is now shipped.\n\n[Track]"
    sent = SimulatedMessage.objects.get(wamid=message.wamid).payload
    assert sent["to"] == WA_ID
    assert sent["template"]["components"][-1] == {"type": "button", "sub_type": "url", "index": "0",
                                                  "parameters": [{"type": "text", "text": "A-42"}]}
    # The customer's conversation has it, created for them.
    assert message.conversation.contact.wa_id == WA_ID
    assert "message.created" in [event for event, _data, _groups in published]
    assert (notification.rule, notification.event_type, notification.phone, notification.message) == (
        rule, "order_status_changed", WA_ID, message)

    again = client.post("/api/v1/notifications/", body(), format="json")
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["duplicate"], again.json()["message_id"]) == (
        notification.pk, True, message.pk)
    # A later GET shows it sent (the message reached WhatsApp).
    detail = client.get(f"/api/v1/notifications/{notification.pk}/").json()
    assert (detail["status"], detail["message_status"], detail["conversation_id"]) == (
        "sent", "sent", message.conversation_id)
    assert Message.objects.count() == 1 and SimulatedMessage.objects.count() == 1


def test_opted_out_customers_get_nothing_and_the_answer_says_so(admin, rule):
    ContactFactory(organization=admin.organization, wa_id=WA_ID, opted_out=True, opt_out_reason="STOP")
    client = client_for(admin)
    response = client.post("/api/v1/notifications/", body(), format="json")
    assert response.status_code == 409
    data = response.json()
    assert (data["status"], data["code"], data["message_id"]) == ("refused", "opted_out", None)
    assert "STOP" in data["reason"]
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert not SimulatedMessage.objects.exists()
    repeat = client.post("/api/v1/notifications/", body(), format="json")
    assert (repeat.status_code, repeat.json()["status"], repeat.json()["id"]) == (200, "refused", data["id"])
    assert Notification.objects.count() == 1


def test_a_template_that_cannot_be_sent_is_refused_with_the_reason(admin, rule):
    rule.template.status = "PAUSED"
    rule.template.save()
    response = client_for(admin).post("/api/v1/notifications/", body(), format="json")
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["status"]) == ("not_approved", "refused")
    assert "paused" in response.json()["reason"]
    assert not Message.objects.exists() and not Contact.objects.exists()


def test_marketing_opt_out_refuses_marketing_templates(admin, rule):
    rule.template.category = "MARKETING"
    rule.template.save()
    ContactFactory(organization=admin.organization, wa_id=WA_ID, marketing_opted_out=True)
    response = client_for(admin).post("/api/v1/notifications/", body(), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "marketing_opted_out")


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"event_type": "invoice_paid"}, "event_type", "unknown_event_type"),
    ({"fields": {"order_id": "A-42", "customer": {"first_name": "Ann"}}}, "fields.status", "required"),
    ({"phone": "12"}, "phone", "invalid"),
    ({"idempotency_key": ""}, "idempotency_key", "invalid"),
    ({"fields": "not an object"}, "fields", "invalid"),
])
def test_bad_input_is_400_naming_the_field_and_records_nothing(admin, rule, changes, field, code):
    response = client_for(admin).post("/api/v1/notifications/", body(**changes), format="json")
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["code"]) == (field, code)
    if field == "event_type":
        assert "invoice_paid" in response.json()["message"]
    assert not Notification.objects.exists() and not Message.objects.exists()


def test_inactive_rules_are_unknown_events(admin, rule):
    rule.active = False
    rule.save()
    response = client_for(admin).post("/api/v1/notifications/", body(), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_event_type")


def test_contact_fields_fill_the_template_and_a_missing_one_is_refused(admin, rule):
    rule.parameter_mapping = {k: v for k, v in rule.parameter_mapping.items() if k != "body.1"}
    rule.save()  # body.1 now comes from the template's prefill: contact.name
    client = client_for(admin)
    response = client.post("/api/v1/notifications/", body(), format="json")
    assert (response.status_code, response.json()["code"]) == (422, "contact_field_missing")
    ContactFactory(organization=admin.organization, wa_id=WA_ID, name="Bea")
    response = client.post("/api/v1/notifications/", body(key="evt-2"), format="json")
    assert response.status_code == 202
    assert Message.objects.get().text.startswith("Hi Bea, order A-42")


def test_access(admin, rule):
    agent = UserFactory(organization=admin.organization)
    assert client_for(agent).post("/api/v1/notifications/", body(), format="json").status_code == 403
    notification, created = notification_send(organization=admin.organization, user=admin, **{
        k: v for k, v in body().items() if k != "idempotency_key"}, idempotency_key="k-1")
    assert created
    assert client_for(agent).get(f"/api/v1/notifications/{notification.pk}/").status_code == 404
    assert client_for(AdminFactory()).get(f"/api/v1/notifications/{notification.pk}/").status_code == 404
    # Keys are per organisation: another organisation may use the same one.
    other = AdminFactory()
    assert client_for(other).post("/api/v1/notifications/", body(key="k-1"), format="json").status_code == 400


def test_the_same_key_at_the_same_moment_sends_once(admin, rule):
    barrier = threading.Barrier(2)
    outcomes = []

    def post():
        try:
            barrier.wait()
            outcomes.append(notification_send(organization=admin.organization, user=admin, **body(key="race")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created for _notification, created in outcomes) == [False, True]
    assert len({notification.pk for notification, _created in outcomes}) == 1
    assert Notification.objects.count() == 1
    assert Message.objects.count() == 1 and SimulatedMessage.objects.count() == 1
