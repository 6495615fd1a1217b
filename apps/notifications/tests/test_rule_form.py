"""The notification rule's admin form: each template parameter mapped to a field of the
contact or the event, or a fixed text, stored as the slot-to-source JSON the send reads;
what is wrong is said per parameter."""

import json

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.notifications.models import Notification, NotificationRule
from apps.notifications.selectors import event_fields_for_user
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/notifications/notificationrule/add/"
COMPONENTS = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["A-100"]}},
    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is {{3}}.",
     "example": {"body_text": [["Maria", "A-100", "on its way"]]}},
    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://s.test/t/{{1}}",
                                     "example": ["https://s.test/t/A-100"]}]},
]


@pytest.fixture
def setup():
    admin = AdminFactory(is_staff=True)
    number = WhatsAppNumberFactory(organization=admin.organization)
    template = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id,
                                      name="order_status", components=COMPONENTS)
    client = Client()
    client.force_login(admin)
    return admin, number, template, client


def post(client, number, template, mapping, **changes):
    data = {"organization": template.organization_id, "event_type": "order_shipped", "number": number.pk, "template": template.pk,
            "parameter_mapping": json.dumps(mapping), "active": "on", **changes}
    return client.post(ADD, data)


def errors(response, field="parameter_mapping") -> list[str]:
    form = response.context["adminform"].form
    return [str(message) for message in form.errors.get(field, [])] if field else form.errors


def test_a_valid_mapping_is_stored_as_the_json_the_send_reads(setup):
    _admin, number, template, client = setup
    mapping = {"header.1": "event.order_id", "body.1": "contact.name", "body.2": "event.order.id",
               "body.3": "text:on its way", "button.0": "event.tracking_code"}
    response = post(client, number, template, mapping)
    assert response.status_code == 302, errors(response, None)
    rule = NotificationRule.objects.get(event_type="order_shipped")
    assert rule.parameter_mapping == mapping


def test_a_parameter_left_to_the_prefill_is_not_stored(setup):
    _admin, number, template, client = setup
    response = post(client, number, template, {"body.1": "contact.name", "body.2": ""})
    assert response.status_code == 302, errors(response, None)
    assert NotificationRule.objects.get().parameter_mapping == {"body.1": "contact.name"}


def test_a_parameter_the_template_lacks_and_an_empty_fixed_text_are_refused_with_the_reason(setup):
    _admin, number, template, client = setup
    response = post(client, number, template, {"body.9": "contact.name", "body.1": "text:  ", "body.2": "order_id"})
    assert response.status_code == 200
    assert errors(response) == [
        "body.9 is not a parameter of order_status (it takes: body.1, body.2, body.3, button.0, header.1).",
        "body.2: a source is contact.<field>, contact.attributes.<key>, event.<field> or text:<fixed text>.",
        "body.1: the fixed text is empty.",
    ]
    assert not NotificationRule.objects.exists()


def test_an_unknown_field_of_the_contact_is_refused_naming_the_fields_it_has(setup):
    _admin, number, template, client = setup
    response = post(client, number, template, {"body.1": "contact.shoe_size", "body.2": "event.order id"})
    assert response.status_code == 200
    assert errors(response) == [
        ("body.1: contact.shoe_size is not a field of the contact (it has: name, display_name, profile_name, "
         "phone, wa_id)."),
        "body.2: event.order id names no event field (letters, digits, _ and - joined by dots).",
    ]


def test_the_page_offers_the_parameters_and_the_events_known_fields(setup):
    admin, _number, template, client = setup
    Notification.objects.create(organization=admin.organization, event_type="order_shipped", idempotency_key="k1",
                                phone="+5511999990000", payload={"order_id": "A-1", "order": {"eta": "Friday"}})
    Notification.objects.create(organization=AdminFactory().organization, event_type="order_shipped",
                                idempotency_key="k2", phone="+5511999990000", payload={"secret_field": "x"})
    page = client.get(ADD)
    data = json.loads(page.content.decode().split('id="id_parameter_mapping-choices" type="application/json">')[1]
                      .split("</script>")[0])
    assert [s["slot"] for s in data["templates"][str(template.pk)]] == ["header.1", "body.1", "body.2", "body.3",
                                                                       "button.0"]
    assert data["templates"][str(template.pk)][1] == {"slot": "body.1", "label": "Body {{1}}", "example": "Maria"}
    assert data["templates"][str(template.pk)][4]["label"] == "Button 1 (Track)"
    # Another organisation's events are not offered.
    assert data["events"] == {"order_shipped": ["event.order.eta", "event.order_id"]}
    assert ["contact.name", "name"] in data["contact"]


def test_event_fields_are_only_the_users_organisations(setup):
    admin, *_ = setup
    Notification.objects.create(organization=AdminFactory().organization, event_type="paid", idempotency_key="k",
                                phone="+5511999990000", payload={"amount": 1})
    assert event_fields_for_user(user=admin) == {}
