"""Editing and deleting a template at Meta, from Django admin, against the simulator."""

import itertools

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.message_templates.models import MessageTemplate
from apps.message_templates.services import template_sync
from apps.simulator.models import SimulatedRequest, SimulatedTemplate
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

META_IDS = itertools.count(880000000001)
NEW = '[{"type": "BODY", "text": "Hello {{1}}, your parcel is on its way.", "example": {"body_text": [["Ana"]]}}]'


@pytest.fixture
def admin(simulator):  # noqa: F811
    return AdminFactory(is_staff=True)


@pytest.fixture
def number(admin):
    return WhatsAppNumberFactory(organization=admin.organization)


def synced(number, *, status="APPROVED", category="UTILITY", name="order_update"):
    SimulatedTemplate.objects.create(
        meta_id=str(next(META_IDS)),
        waba_id=number.waba_id,
        name=name,
        language="en_US",
        category=category,
        status=status,
        components=[{"type": "BODY", "text": "Hi {{1}}, thanks."}],
    )
    template_sync(organization=number.organization)
    return MessageTemplate.objects.get(organization=number.organization, name=name)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def edit_url(template) -> str:
    return f"/admin/message_templates/messagetemplate/{template.pk}/edit-at-meta/"


def test_an_edit_goes_to_meta_and_is_stored(admin, number):
    template = synced(number)
    assert (
        "Edit the components at Meta"
        in browser(admin)
        .get(f"/admin/message_templates/messagetemplate/{template.pk}/change/")
        .content.decode()
    )
    response = browser(admin).post(edit_url(template), {"components": NEW})
    assert response.status_code == 302, response.content.decode()[:1500]
    at_meta = SimulatedTemplate.objects.get(meta_id=template.meta_id)
    assert at_meta.components[0]["text"] == "Hello {{1}}, your parcel is on its way."
    template.refresh_from_db()
    assert (template.components[0]["text"], template.status) == (
        "Hello {{1}}, your parcel is on its way.",
        "PENDING",
    )


def test_meta_allows_one_edit_a_day_and_says_so(admin, number):
    template = synced(number)
    assert (
        browser(admin).post(edit_url(template), {"components": NEW}).status_code == 302
    )
    template_sync(organization=number.organization)  # the simulator approved it at once
    template.refresh_from_db()
    assert template.status == "APPROVED"
    response = browser(admin).post(edit_url(template), {"components": NEW})
    assert (
        response.status_code == 200 and "once in 24 hours" in response.content.decode()
    )


def test_bad_components_are_refused_before_meta(admin, number):
    template = synced(number)
    for bad, reason in (
        ("not json", "Not valid JSON"),
        ('[{"type": "BODY", "text": ""}]', "body"),
    ):
        response = browser(admin).post(edit_url(template), {"components": bad})
        assert response.status_code == 200 and reason in response.content.decode()
    assert not SimulatedRequest.objects.filter(
        method="POST", path__endswith=f"/{template.meta_id}"
    ).exists()


def test_a_pending_template_is_not_editable(admin, number):
    template = synced(number, status="PENDING", category="MARKETING")
    response = browser(admin).post(edit_url(template), {"components": NEW})
    assert "approved, rejected or paused templates only" in response.content.decode()


def test_delete_at_meta_asks_first_then_deletes_that_language(admin, number):
    template = synced(number)
    other = synced(number, name="keep_me")
    changelist = "/admin/message_templates/messagetemplate/"
    asked = browser(admin).post(
        changelist, {"action": "delete_at_meta", "_selected_action": [template.pk]}
    )
    assert "Delete these templates at Meta?" in asked.content.decode()
    assert SimulatedTemplate.objects.filter(meta_id=template.meta_id).exists()
    done = browser(admin).post(
        changelist,
        {
            "action": "delete_at_meta",
            "_selected_action": [template.pk],
            "confirmed": "yes",
        },
        follow=True,
    )
    assert "is deleted at Meta" in done.content.decode()
    assert not SimulatedTemplate.objects.filter(meta_id=template.meta_id).exists()
    assert SimulatedTemplate.objects.filter(meta_id=other.meta_id).exists()
    template.refresh_from_db()
    assert (template.status, template.deleted_at is not None) == ("DELETED", True)


def test_a_refused_delete_changes_nothing_here(admin, number):
    template = synced(number)
    inject(fail_code=100, fail_count=1)
    done = browser(admin).post(
        "/admin/message_templates/messagetemplate/",
        {
            "action": "delete_at_meta",
            "_selected_action": [template.pk],
            "confirmed": "yes",
        },
        follow=True,
    )
    assert "Meta refused" in done.content.decode()
    template.refresh_from_db()
    assert (template.status, template.deleted_at) == ("APPROVED", None)


def test_another_organisation_cannot_edit(admin, number):
    template = synced(number)
    other = AdminFactory(is_staff=True)
    assert browser(other).post(edit_url(template), {"components": NEW}).status_code in (
        403,
        404,
    )
    agent = UserFactory(organization=number.organization)
    assert (
        browser(agent).post(edit_url(template), {"components": NEW}).status_code == 302
    )  # to the login
    assert (
        SimulatedTemplate.objects.get(meta_id=template.meta_id).components[0]["text"]
        == "Hi {{1}}, thanks."
    )
