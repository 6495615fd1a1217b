"""Sync from Meta (all pages, changes, deletions) and create-and-submit, against the simulator."""

import itertools

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from apps.accounts.tokens import token_issue
from apps.accounts.tests.factories import AdminFactory, SupervisorFactory, UserFactory
from apps.message_templates import services
from apps.message_templates.models import MessageTemplate
from apps.message_templates.services import template_create, template_sync
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.simulator.models import SimulatedRequest, SimulatedTemplate
from apps.simulator.testing import inject, simulator  # noqa: F401
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


META_IDS = itertools.count(770000000001)


def at_meta(number, name, *, language="en_US", status="APPROVED", category="UTILITY", text="Hi {{1}}, thanks.",
            parameter_format="POSITIONAL"):
    return SimulatedTemplate.objects.create(
        meta_id=str(next(META_IDS)), waba_id=number.waba_id, name=name,
        language=language, category=category, status=status, parameter_format=parameter_format,
        components=[{"type": "BODY", "text": text}],
    )


def test_sync_follows_every_page_and_applies_changes(admin, number, monkeypatch):
    monkeypatch.setattr(services, "SYNC_PAGE_SIZE", 2)
    for i in range(5):
        at_meta(number, f"tpl_{i}")
    at_meta(number, "tpl_0", language="pt_BR", parameter_format="NAMED", text="Oi {{nome}}, obrigado.")
    result = template_sync(organization=admin.organization)
    assert result.as_dict() == {"created": 6, "updated": 0, "unchanged": 0, "deleted": 0, "errors": []}
    # Three pages of two, through paging.next.
    listings = SimulatedRequest.objects.filter(path__contains="message_templates", method="GET")
    assert listings.count() == 3
    local = MessageTemplate.objects.get(organization=admin.organization, name="tpl_0", language="pt_BR")
    remote = SimulatedTemplate.objects.get(name="tpl_0", language="pt_BR")
    assert (local.meta_id, local.status, local.category, local.parameter_format, local.waba_id) == (
        remote.meta_id, "APPROVED", "UTILITY", "NAMED", number.waba_id)
    assert local.components == [{"type": "BODY", "text": "Oi {{nome}}, obrigado."}]

    # Meta pauses one, recategorises another, edits a third and deletes a fourth.
    SimulatedTemplate.objects.filter(name="tpl_1").update(status="PAUSED")
    SimulatedTemplate.objects.filter(name="tpl_2").update(category="MARKETING")
    SimulatedTemplate.objects.filter(name="tpl_3").update(components=[{"type": "BODY", "text": "New {{1}} text."}])
    SimulatedTemplate.objects.filter(name="tpl_4").delete()
    result = template_sync(organization=admin.organization)
    assert result.as_dict() == {"created": 0, "updated": 3, "unchanged": 2, "deleted": 1, "errors": []}
    templates = {t.name + "/" + t.language: t for t in MessageTemplate.objects.all()}
    assert templates["tpl_1/en_US"].status == "PAUSED"
    assert templates["tpl_2/en_US"].category == "MARKETING"
    assert templates["tpl_3/en_US"].components == [{"type": "BODY", "text": "New {{1}} text."}]
    assert (templates["tpl_4/en_US"].status, templates["tpl_4/en_US"].deleted_at is not None) == ("DELETED", True)

    # Listed again (restored at Meta): no longer deleted.
    at_meta(number, "tpl_4")
    result = template_sync(organization=admin.organization)
    assert (result.created, result.updated, result.deleted) == (0, 1, 0)
    restored = MessageTemplate.objects.get(name="tpl_4")
    assert (restored.status, restored.deleted_at) == ("APPROVED", None)


def test_sync_keeps_drafts_and_other_organisations_and_wabas(admin, number):
    other_org_template = MessageTemplateFactory(waba_id=number.waba_id, name="theirs")
    other_waba = MessageTemplateFactory(organization=admin.organization, waba_id="999", name="elsewhere")
    draft = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id, name="draft",
                                   status="DRAFT", meta_id="")
    at_meta(number, "mine")
    result = template_sync(organization=admin.organization)
    assert (result.created, result.deleted) == (1, 0)
    for template in (other_org_template, other_waba, draft):
        template.refresh_from_db()
        assert template.deleted_at is None


def test_one_sync_per_waba_and_a_failed_listing_deletes_nothing(admin, number):
    WhatsAppNumberFactory(organization=admin.organization, waba_id=number.waba_id)
    kept = MessageTemplateFactory(organization=admin.organization, waba_id=number.waba_id, name="kept")
    at_meta(number, "kept")
    assert template_sync(organization=admin.organization).updated == 1
    assert SimulatedRequest.objects.filter(path__contains="message_templates").count() == 1

    SimulatedTemplate.objects.all().delete()  # were the listing complete, "kept" would be deleted
    inject(fail_code=131000, fail_count=1)
    result = template_sync(organization=admin.organization)
    assert result.created == result.updated == result.deleted == 0
    assert len(result.errors) == 1
    kept.refresh_from_db()
    assert kept.deleted_at is None


def test_management_command_and_periodic_task(admin, number, capsys):
    at_meta(number, "from_command")
    call_command("sync_templates")
    assert "1 created" in capsys.readouterr().out
    assert MessageTemplate.objects.filter(name="from_command").exists()
    with pytest.raises(CommandError):
        call_command("sync_templates", organization="no-such-org")

    from apps.message_templates.tasks import sync_templates

    at_meta(number, "from_beat")
    assert sync_templates() == {"created": 1, "updated": 0, "unchanged": 1, "deleted": 0, "errors": []}
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "message_templates.sync_templates")
    from config.celery import app

    app.loader.import_default_modules()
    assert app.tasks[entry["task"]].name == sync_templates.name


def test_sync_api_for_admins_only(admin, number):
    at_meta(number, "via_api")
    for user in (UserFactory(organization=admin.organization), SupervisorFactory(organization=admin.organization)):
        assert client_for(user).post("/api/v1/templates/sync/").status_code == 403
    assert not MessageTemplate.objects.exists()
    response = client_for(admin).post("/api/v1/templates/sync/")
    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0, "deleted": 0, "errors": []}


def test_admin_sync_button(admin, number, client):
    admin.is_staff = True
    admin.save()
    at_meta(number, "via_admin")
    client.force_login(admin)
    response = client.post("/admin/message_templates/messagetemplate/sync/", follow=True)
    assert response.status_code == 200
    assert "1 new" in response.content.decode()
    assert MessageTemplate.objects.filter(name="via_admin", organization=admin.organization).exists()


CREATE = {
    "name": "order_shipped", "language": "en_US", "category": "UTILITY", "parameter_format": "POSITIONAL",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["#42"]}},
        {"type": "BODY", "text": "Hi {{1}}, your order ships today.", "example": {"body_text": [["Ann"]]}},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://s.test/t/{{1}}",
                                         "example": ["https://s.test/t/A1"]}]},
    ],
}


def test_create_submits_to_meta_and_stores_the_answer(admin, number):
    template = template_create(organization=admin.organization, number=number, **CREATE)
    remote = SimulatedTemplate.objects.get(waba_id=number.waba_id, name="order_shipped")
    assert (template.meta_id, template.status, template.waba_id) == (remote.meta_id, "APPROVED", number.waba_id)
    assert remote.components == CREATE["components"]
    # Then sync finds it unchanged.
    assert template_sync(organization=admin.organization).unchanged == 1


def test_create_api_validates_before_submitting(admin, number):
    agent = UserFactory(organization=admin.organization)
    body = {**CREATE, "number": number.phone_number_id, "parameter_mapping": {"body.1": "contact.name"}}
    assert client_for(agent).post("/api/v1/templates/", body, format="json").status_code == 403

    bad = {**body, "components": [{"type": "BODY", "text": "{{1}} starts here", "example": {"body_text": [["a"]]}}]}
    response = client_for(admin).post("/api/v1/templates/", bad, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "body.text"
    assert not SimulatedTemplate.objects.exists()

    response = client_for(admin).post("/api/v1/templates/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["status"], data["parameter_mapping"], data["mapping_errors"]) == (
        "APPROVED", {"body.1": "contact.name"}, [])
    assert [s["slot"] for s in data["slots"]] == ["header.1", "body.1", "button.0"]

    # Meta refuses a second one with the same name and language.
    MessageTemplate.objects.all().delete()
    response = client_for(admin).post("/api/v1/templates/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "meta"
    assert "already exists" in response.json()["message"]


def test_admin_form_creates_and_shows_rule_errors(admin, number, client):
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    form = {
        "number": number.pk, "name": "welcome_offer", "language": "en_US", "category": "MARKETING",
        "parameter_format": "NAMED", "header_format": "TEXT", "header_text": "Hello {{first_name}}",
        "header_example": "Ann", "body_text": "Use code {{code}} today, {{first_name}}.",
        "body_examples": "code=SAVE10\nfirst_name=Ann", "footer_text": "Reply STOP to stop",
        "buttons": "QUICK_REPLY | Not now\nCOPY_CODE | SAVE10\nURL | Shop | https://s.test/shop",
        "parameter_mapping_text": '{"header.first_name": "contact.name", "body.first_name": "contact.name"}',
    }
    response = client.post("/admin/message_templates/messagetemplate/add/", {**form, "body_examples": "code=SAVE10"})
    assert response.status_code == 200
    assert "Give an example for first_name" in response.content.decode()
    assert not SimulatedTemplate.objects.exists()

    response = client.post("/admin/message_templates/messagetemplate/add/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    template = MessageTemplate.objects.get(name="welcome_offer")
    assert (template.status, template.parameter_format, template.organization_id) == (
        "PENDING", "NAMED", admin.organization_id)
    assert template.parameter_mapping == {"header.first_name": "contact.name", "body.first_name": "contact.name"}
    remote = SimulatedTemplate.objects.get(name="welcome_offer")
    assert remote.components[-1] == {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Not now"}, {"type": "COPY_CODE", "example": "SAVE10"},
        {"type": "URL", "text": "Shop", "url": "https://s.test/shop"}]}
    page = client.get(f"/admin/message_templates/messagetemplate/{template.pk}/change/").content.decode()
    assert "Hello Ann" in page and "Use code SAVE10 today, Ann." in page


def test_agents_cannot_use_the_admin_form(admin, number, client):
    agent = UserFactory(organization=admin.organization, is_staff=True)
    client.force_login(agent)
    response = client.post("/admin/message_templates/messagetemplate/add/", {"number": number.pk, "name": "x"})
    assert response.status_code in (302, 403)
    assert not SimulatedTemplate.objects.exists()


def test_demo_templates_are_synced_and_render(admin, number, capsys):
    from apps.simulator.management.commands.seed_demo_templates import SAMPLES
    from apps.message_templates.render import slots, template_render

    from apps.message_templates.definition import template_definition_check

    for sample in SAMPLES:  # valid by Meta's rules (the authentication one as Meta lists it)
        if sample["category"] != "AUTHENTICATION":
            template_definition_check(**sample)
    call_command("seed_demo_templates")
    call_command("seed_demo_templates")  # twice changes nothing
    assert "0 sample templates added at the simulator for 1" in capsys.readouterr().out
    assert template_sync(organization=admin.organization).created == len(SAMPLES)
    for template in MessageTemplate.objects.filter(organization=admin.organization):
        parameters: dict = {}
        for slot in slots(template):
            target = parameters.setdefault(slot["component"], {})
            target[slot["key"]] = "X1"
        assert template_render(template=template, parameters=parameters).text
