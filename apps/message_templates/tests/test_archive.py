"""Archiving and unarchiving templates at Meta (POST /{waba-id}/message_templates/archive
and /unarchive on api.facebook.com), from Django admin against the simulator: an
archived template is shown ARCHIVED and is not sendable; unarchived, it takes back the
status Meta restores; Meta's refusals are reported per template."""

import itertools
import json
from pathlib import Path

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.conversations.tests.factories import ConversationFactory
from apps.message_templates.models import MessageTemplate
from apps.message_templates.services import template_sync
from apps.messaging.services.send import message_send
from apps.messaging.validation import SendError
from apps.providers.meta import template_lifecycle
from apps.providers.meta.destinations import Refused, archive_url, token_allowed
from apps.simulator.models import SimulatedTemplate
from apps.simulator.testing import simulator  # noqa: F401

META_IDS = itertools.count(1387372356726668)
ANSWERS = json.loads((Path(__file__).parent / "fixtures" / "template_archiving.json").read_text())
CHANGELIST = "/admin/message_templates/messagetemplate/"


def test_archiving_goes_to_meta_s_host_and_only_there(settings):
    settings.GRAPH_API_BASE = "https://graph.facebook.com"
    settings.META_TEMPLATE_ARCHIVE_BASE = ""
    url = archive_url("102290129340398", "archive")
    assert url == "https://api.facebook.com/102290129340398/message_templates/archive"
    assert token_allowed(url) and token_allowed(archive_url("102290129340398", "unarchive"))
    assert not token_allowed("https://api.facebook.com/102290129340398/messages")
    assert not token_allowed("https://api.facebook.com.evil.example/1/message_templates/archive")
    for waba, action in (("../1", "archive"), ("1/x", "archive"), ("1", "delete")):
        with pytest.raises(Refused):
            archive_url(waba, action)


def test_meta_s_answers_are_read_as_done_and_refused():
    class Answering:
        def call_url(self, method, url, *, json=None):
            self.sent = (method, url, json)
            return ANSWERS["archived" if url.endswith("/archive") else "unarchived"]

    client = Answering()
    done, failed = template_lifecycle.templates_archive(client, "1", ["1387372356726668", "1387372356726669"])
    assert (done, failed) == (["1387372356726668"],
                              {"1387372356726669": "Only approved or rejected templates can be archived"})
    assert client.sent[2] == {"hsm_ids": ["1387372356726668", "1387372356726669"]}
    done, failed = template_lifecycle.templates_archive(client, "1", ["1387372356726668"], archive=False)
    assert done == ["1387372356726668"] and failed["1387372356726669"] == "Template is not archived"


@pytest.fixture
def conversation(simulator):  # noqa: F811
    return ConversationFactory()


@pytest.fixture
def admin(conversation):
    return AdminFactory(is_staff=True, organization=conversation.organization)


def at_meta(conversation, name, status="APPROVED"):
    SimulatedTemplate.objects.create(
        meta_id=str(next(META_IDS)), waba_id=conversation.number.waba_id, name=name, language="en_US",
        category="UTILITY", status=status, components=[{"type": "BODY", "text": "Your order has shipped."}])
    template_sync(organization=conversation.organization)
    return MessageTemplate.objects.get(organization=conversation.organization, name=name)


def act(admin, action, templates):
    client = Client()
    client.force_login(admin)
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [t.pk for t in templates]},
                           follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_archived_template_is_not_sendable_until_unarchived(conversation, admin):
    template = at_meta(conversation, "order_shipped")
    html = act(admin, "archive_at_meta", [template])
    assert "Archived at Meta: order_shipped (en_US)" in html
    assert SimulatedTemplate.objects.get(meta_id=template.meta_id).status == "ARCHIVED"
    template.refresh_from_db()
    assert template.status == "ARCHIVED"
    with pytest.raises(SendError) as refused:
        message_send(conversation=conversation, author=None, author_type="agent", kind="template",
                     payload={"name": "order_shipped", "language": "en_US"})
    assert "is archived at Meta: unarchive it" in refused.value.message
    html = act(admin, "unarchive_at_meta", [template])
    assert "Unarchived at Meta: order_shipped (en_US)" in html
    template.refresh_from_db()
    assert template.status == "APPROVED"
    assert message_send(conversation=conversation, author=None, author_type="agent", kind="template",
                        payload={"name": "order_shipped", "language": "en_US"}).pk


@pytest.mark.django_db(transaction=True)
def test_unarchiving_restores_the_status_meta_had(conversation, admin):
    template = at_meta(conversation, "old_offer", status="REJECTED")
    act(admin, "archive_at_meta", [template])
    act(admin, "unarchive_at_meta", [template])
    template.refresh_from_db()
    assert template.status == "REJECTED"


@pytest.mark.django_db(transaction=True)
def test_refusals_are_reported_per_template(conversation, admin):
    fine = at_meta(conversation, "fine_one")
    paused_since = at_meta(conversation, "paused_since")
    in_review = at_meta(conversation, "in_review", status="PENDING")
    SimulatedTemplate.objects.filter(meta_id=paused_since.meta_id).update(status="PAUSED")  # after our sync
    html = act(admin, "archive_at_meta", [fine, paused_since, in_review])
    assert "Archived at Meta: fine_one (en_US)" in html
    # (Django's admin writes each message with a capital.)
    assert "Paused_since (en_US): Only approved or rejected templates can be archived" in html
    assert "In_review (en_US): Meta archives approved or rejected templates only." in html
    assert list(MessageTemplate.objects.filter(status="ARCHIVED").values_list("name", flat=True)) == ["fine_one"]
    html = act(admin, "unarchive_at_meta", [paused_since])
    assert "Paused_since (en_US): It is not archived." in html


@pytest.mark.django_db(transaction=True)
def test_an_unarchived_webhook_takes_the_status_meta_restored(conversation, admin):
    """Unarchived elsewhere (WhatsApp Manager): the webhook says UNARCHIVED, not the status
    Meta restored, which is read from Meta; a rejected template does not become sendable."""
    from apps.message_templates.services import template_apply_webhook

    template = at_meta(conversation, "spring_sale", status="REJECTED")
    act(admin, "archive_at_meta", [template])
    SimulatedTemplate.objects.filter(meta_id=template.meta_id).update(status="REJECTED")  # unarchived at Meta
    template_apply_webhook(organization=conversation.organization, waba_id=template.waba_id,
                           field="message_template_status_update",
                           value={"event": "UNARCHIVED", "message_template_id": template.meta_id,
                                  "message_template_name": "spring_sale", "message_template_language": "en_US"})
    template.refresh_from_db()
    assert template.status == "REJECTED"


@pytest.mark.django_db(transaction=True)
def test_an_unarchived_webhook_keeps_approved_when_meta_cannot_be_read(conversation, admin, settings):
    from apps.message_templates.services import template_apply_webhook

    template = at_meta(conversation, "winter_sale")
    act(admin, "archive_at_meta", [template])
    SimulatedTemplate.objects.filter(meta_id=template.meta_id).delete()  # Meta answers 100: no such template
    template_apply_webhook(organization=conversation.organization, waba_id=template.waba_id,
                           field="message_template_status_update",
                           value={"event": "UNARCHIVED", "message_template_id": template.meta_id})
    template.refresh_from_db()
    assert template.status == "APPROVED"
