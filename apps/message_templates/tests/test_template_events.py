"""A template's lifecycle at Meta applied at once: REINSTATED and UNARCHIVED make it
sendable, an edit (message_template_components_update) replaces its components, so
previews and parameter checks use the new ones (fixtures from Meta's reference)."""

import pytest

from apps.message_templates.edits import components_edited
from apps.message_templates.models import MessageTemplate
from apps.message_templates.render import template_render, template_unsendable_reason
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.validation import SendError
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.conftest import deliver, number  # noqa: F401
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db

OLD = [
    {"type": "HEADER", "format": "TEXT", "text": "Order update"},
    {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["Ann", "42"]]}},
    {"type": "FOOTER", "text": "Old footer"},
    {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Stop"},
        {"type": "URL", "text": "Track", "url": "https://old.example/track/{{1}}", "example": ["ABC"]},
        {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550000000"},
    ]},
]


@pytest.fixture
def template(number):
    return MessageTemplateFactory(organization=number.organization, waba_id=number.waba_id, meta_id="12345678901",
                                  name="order_shipped", language="pt_BR", components=OLD)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fixture", ["template_status_reinstated.json", "template_status_unarchived.json"])
@pytest.mark.parametrize("before", [MessageTemplate.Status.PAUSED, MessageTemplate.Status.ARCHIVED,
                                    MessageTemplate.Status.FLAGGED])
def test_reinstated_and_unarchived_make_the_template_sendable_at_once(simulator, deliver, template, fixture,  # noqa: F811
                                                                      before):
    # (UNARCHIVED also reads the status Meta restored: the simulator has no such template
    # and answers 100, so the notice's APPROVED stands; test_archive.py reads a REJECTED one.)
    MessageTemplate.objects.filter(pk=template.pk).update(status=before, rejection_reason="FIRST_PAUSE")
    template.refresh_from_db()
    assert template_unsendable_reason(template)
    deliver(load_fixture(fixture))
    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == (MessageTemplate.Status.APPROVED, "")
    assert template_unsendable_reason(template) == ""
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_an_edit_replaces_the_components_and_the_checks_use_them(deliver, template):
    deliver(load_fixture("template_components_update.json"))
    template.refresh_from_db()
    assert template.components == [
        {"type": "HEADER", "format": "TEXT", "text": "Your order is confirmed!"},
        {"type": "BODY", "text": "Thank you for your order, {{1}}! Your order number is {{2}}. If you have any "
                                 "questions, contact support using the buttons below. Thanks again!",
         "example": {"body_text": [["Ann", "42"]]}},
        {"type": "FOOTER", "text": "Lucky Shrub: the Succulent Specialists!"},
        {"type": "BUTTONS", "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "URL", "text": "Email support", "url": "https://www.luckyshrub.com/support"},
            {"type": "PHONE_NUMBER", "text": "Call support", "phone_number": "+15550783881"},
        ]},
    ]
    rendered = template_render(template=template, parameters={"body": ["Ann", "42"]})
    assert rendered.body.startswith("Thank you for your order, Ann! Your order number is 42.")
    assert rendered.header == "Your order is confirmed!"
    # The URL lost its placeholder: it takes no parameter any more.
    with pytest.raises(SendError) as refused:
        template_render(template=template, parameters={"body": ["Ann", "42"], "buttons": {"1": "ABC"}})
    assert refused.value.code == "not_allowed"
    # The edit is the template's, not an account notice; the same delivery again changes nothing.
    assert not AccountEvent.objects.exists()
    before = template.updated_at
    deliver(load_fixture("template_components_update.json"))
    template.refresh_from_db()
    assert template.updated_at == before


def test_an_edit_that_drops_the_header_footer_and_buttons():
    edited = components_edited(OLD, {"message_template_element": "Hi {{1}}, order {{2}} shipped."})
    assert edited == [{"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.",
                       "example": {"body_text": [["Ann", "42"]]}},
                      {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop"}]}]


def test_a_new_placeholder_drops_the_old_examples_and_media_headers_stay():
    components = [{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["h"]}},
                  {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Ann"]]}}]
    edited = components_edited(components, {"message_template_element": "Hi {{1}}, your code is {{2}}"})
    assert edited == [components[0], {"type": "BODY", "text": "Hi {{1}}, your code is {{2}}"}]


def test_an_authentication_templates_own_footer_stays():
    components = [{"type": "BODY", "add_security_recommendation": True},
                  {"type": "FOOTER", "code_expiration_minutes": 10},
                  {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}]
    edited = components_edited(components, {"message_template_element": "{{1}} is your verification code.",
                                            "message_template_buttons": [{"message_template_button_type": "OTP",
                                                                          "message_template_button_text": "Copy"}]})
    assert edited[1:] == [{"type": "FOOTER", "code_expiration_minutes": 10},
                          {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]}]
