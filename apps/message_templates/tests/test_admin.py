"""Admin: notification rules checked against their template, notifications read-only, scoping."""

import pytest

from apps.accounts.tests.factories import AdminFactory
from apps.notifications.models import Notification, NotificationRule
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_admin(client):
    user = AdminFactory(is_staff=True)
    client.force_login(user)
    return user


def rule_form(number, template, mapping):
    return {"organization": number.organization_id, "event_type": "order_shipped", "number": number.pk, "template": template.pk,
            "parameter_mapping": mapping, "active": "on"}


def test_rule_mapping_is_checked_against_the_template(client, staff_admin):
    org = staff_admin.organization
    number = WhatsAppNumberFactory(organization=org)
    template = MessageTemplateFactory(organization=org, waba_id=number.waba_id)
    url = "/admin/notifications/notificationrule/add/"
    response = client.post(url, rule_form(number, template, '{"body.9": "event.x", "body.1": "order"}'))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["parameter_mapping"]
    assert len(errors) == 2 and "body.9 is not a parameter" in errors[0] and "body.1: a source is" in errors[1]

    elsewhere = MessageTemplateFactory(organization=org, waba_id="another")
    response = client.post(url, rule_form(number, elsewhere, "{}"))
    assert "another WhatsApp Business Account" in str(response.context["adminform"].form.errors["template"])

    response = client.post(url, rule_form(number, template, '{"body.1": "contact.name", "body.2": "event.order"}'))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = NotificationRule.objects.get()
    assert (rule.organization, rule.parameter_mapping) == (org, {"body.1": "contact.name", "body.2": "event.order"})


def test_other_organisations_templates_are_not_offered(client, staff_admin):
    number = WhatsAppNumberFactory(organization=staff_admin.organization)
    foreign = MessageTemplateFactory(waba_id=number.waba_id)
    response = client.post("/admin/notifications/notificationrule/add/", rule_form(number, foreign, "{}"))
    assert "template" in response.context["adminform"].form.errors
    assert client.get(f"/admin/message_templates/messagetemplate/{foreign.pk}/change/").status_code == 404


def test_notifications_are_read_only_and_template_prefill_is_checked(client, staff_admin):
    org = staff_admin.organization
    notification = Notification.objects.create(organization=org, event_type="x", idempotency_key="k", phone="1")
    assert client.get("/admin/notifications/notification/add/").status_code == 403
    page = client.get(f"/admin/notifications/notification/{notification.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()

    template = MessageTemplateFactory(organization=org)
    url = f"/admin/message_templates/messagetemplate/{template.pk}/change/"
    response = client.post(url, {"parameter_mapping": '{"header.1": "contact.name"}'})
    assert "header.1 is not a parameter" in str(response.context["adminform"].form.errors)
    response = client.post(url, {"parameter_mapping": '{"body.2": "contact.attributes.order"}'})
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.parameter_mapping == {"body.2": "contact.attributes.order"}
