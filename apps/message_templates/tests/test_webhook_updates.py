"""Meta's template webhooks applied to our templates."""

import pytest

from apps.message_templates.models import MessageTemplate
from apps.message_templates.services import template_apply_webhook
from apps.message_templates.tests.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    return MessageTemplateFactory(meta_id="555", name="order_shipped", language="pt_BR",
                                  status=MessageTemplate.Status.PENDING)


def apply(template, field, **value):
    return template_apply_webhook(organization=template.organization, waba_id=template.waba_id, field=field,
                                  value=value)


def test_status_update_by_meta_id(template):
    apply(template, "message_template_status_update", event="APPROVED", message_template_id=555, reason="NONE")
    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == ("APPROVED", "")
    assert template.synced_at is not None


def test_rejection_keeps_the_reason(template):
    apply(template, "message_template_status_update", event="REJECTED", message_template_id=555,
          reason="INVALID_FORMAT")
    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == ("REJECTED", "INVALID_FORMAT")


def test_found_by_name_and_language_when_meta_id_is_unknown(template):
    MessageTemplate.objects.filter(pk=template.pk).update(meta_id="")
    found = apply(template, "message_template_status_update", event="PAUSED", message_template_id=777,
                  message_template_name="order_shipped", message_template_language="pt_BR")
    assert found.pk == template.pk
    template.refresh_from_db()
    assert (template.status, template.meta_id) == ("PAUSED", "777")


def test_quality_and_category_updates(template):
    apply(template, "message_template_quality_update", new_quality_score="RED", message_template_id=555)
    apply(template, "template_category_update", new_category="MARKETING", message_template_id=555)
    template.refresh_from_db()
    assert (template.quality, template.category) == ("RED", "MARKETING")


def test_unknown_template_and_unknown_values_change_nothing(template):
    assert apply(template, "message_template_status_update", event="APPROVED", message_template_id=1) is None
    apply(template, "message_template_status_update", event="SOMETHING_NEW", message_template_id=555)
    apply(template, "template_category_update", new_category="NOPE", message_template_id=555)
    template.refresh_from_db()
    assert (template.status, template.category) == ("PENDING", "UTILITY")


def test_other_organisations_templates_are_untouched(template):
    other = MessageTemplateFactory(meta_id="555")
    apply(template, "message_template_status_update", event="DISABLED", message_template_id=555)
    other.refresh_from_db()
    assert other.status == "APPROVED"
