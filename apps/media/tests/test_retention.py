"""Retention and deletion on request."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.tests.factories import AdminFactory, SupervisorFactory
from apps.conversations.models import AuditLogEntry
from apps.conversations.tests.factories import ConversationFactory
from apps.media import services, tasks
from apps.media.models import Media
from apps.media.tests.factories import StoredMediaFactory
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def stored(conversation=None, *, days_old=0, **kwargs):
    message = MessageFactory(conversation=conversation or ConversationFactory(), type="document", text="", content={})
    return StoredMediaFactory(message=message, stored_at=timezone.now() - timedelta(days=days_old), **kwargs)


def test_retention_expires_old_files_only(settings):
    old = stored(days_old=31)
    old.organization.media_retention_days = 30
    old.organization.save()
    recent = stored(ConversationFactory(organization=old.organization), days_old=29)
    kept_forever = stored(days_old=400)  # an organisation without retention
    old_path = settings.MEDIA_ROOT / old.file.name

    assert tasks.expire_retained_media() == 1

    old = Media.objects.get(pk=old.pk)
    assert (old.state, old.file.name, old.thumbnail.name) == ("expired", "", "")
    assert not old_path.exists()
    assert Media.objects.get(pk=recent.pk).state == "stored"
    assert Media.objects.get(pk=kept_forever.pk).state == "stored"
    assert services.media_expire_retained() == 0  # safe to run twice


def test_an_admin_deletes_a_contacts_files_with_an_audit_entry(settings):
    conversation = ConversationFactory()
    first, second = stored(conversation), stored(conversation)
    other = stored(ConversationFactory(organization=conversation.organization))
    admin = AdminFactory(organization=conversation.organization)
    paths = [settings.MEDIA_ROOT / m.file.name for m in (first, second)]

    assert services.contact_media_delete(contact=conversation.contact, user=admin) == 2

    assert sorted(Media.objects.filter(state="deleted").values_list("pk", flat=True)) == [first.pk, second.pk]
    assert not any(path.exists() for path in paths)
    assert Media.objects.get(pk=other.pk).state == "stored"
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.data) == (
        "contact.media_deleted", admin.pk,
        {"contact_id": conversation.contact_id, "media_ids": [first.pk, second.pk], "count": 2},
    )


def test_only_an_admin_of_the_organisation_may_delete(settings):
    media = stored()
    contact = media.message.conversation.contact
    for user in (SupervisorFactory(organization=media.organization), AdminFactory()):
        with pytest.raises(PermissionDenied):
            services.contact_media_delete(contact=contact, user=user)
    assert Media.objects.get(pk=media.pk).state == "stored"
    assert (settings.MEDIA_ROOT / media.file.name).exists()
    assert AuditLogEntry.objects.count() == 0


def test_the_command_deletes_on_request(capsys):
    media = stored()
    admin = AdminFactory(organization=media.organization)
    call_command("delete_contact_media", str(media.message.conversation.contact_id), "--by", admin.username)
    assert capsys.readouterr().out == f"Deleted 1 file(s) of contact {media.message.conversation.contact_id}.\n"
    assert Media.objects.get(pk=media.pk).state == "deleted"
    with pytest.raises(CommandError):
        call_command("delete_contact_media", "999999", "--by", admin.username)


def test_the_contact_admin_action_deletes_their_files(client, settings):
    conversation = ConversationFactory()
    media = stored(conversation)
    admin = AdminFactory(organization=conversation.organization, is_staff=True)
    client.force_login(admin)
    response = client.post(
        "/admin/conversations/contact/",
        {"action": "delete_media_files", "_selected_action": [conversation.contact_id]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 media files deleted." in response.content.decode()
    assert Media.objects.get(pk=media.pk).state == "deleted"
    assert not (settings.MEDIA_ROOT / media.file.name).exists()
