"""The flush that ends a transactional test (tests/flush.py) leaves what Django's own
flush leaves: every table empty but the content types, permissions and admin theme
post_migrate writes, the same rows but for their ids."""

import pytest
from admin_interface.models import Theme
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection

from apps.accounts.tests.factories import UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.core import site_theme
from tests import flush

pytestmark = pytest.mark.django_db(transaction=True)


def flush_as_a_test_does():
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False, allow_cascade=False,
                 inhibit_post_migrate=False)


def make_a_mess():
    UserFactory()
    ConversationFactory()
    Permission.objects.filter(codename="view_contact").delete()
    ContentType.objects.create(app_label="nowhere", model="nothing")
    Theme.objects.filter(name=site_theme.THEME).update(title="Changed by a test")


def state() -> dict:
    filled = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            if count := cursor.fetchone()[0]:
                filled[table] = count
    return {
        "filled": filled,
        "content_types": sorted(ContentType.objects.values_list("app_label", "model")),
        "permissions": sorted(Permission.objects.values_list("content_type__app_label", "content_type__model",
                                                             "codename", "name")),
        "themes": sorted(tuple(value for key, value in row.items() if key != "id")
                         for row in Theme.objects.values()),
    }


def test_the_flush_leaves_what_djangos_flush_leaves():
    flush_as_a_test_does()  # the session's first flush keeps its copy of post_migrate's rows
    make_a_mess()
    flush_as_a_test_does()
    ours = state()
    assert flush._snapshots[connection.settings_dict["NAME"]] is not None, (
        "post_migrate has a receiver tests/flush.py does not know, or fills another table: "
        "every flush runs it (correct, but slow)")

    flush.uninstall()
    try:
        make_a_mess()
        flush_as_a_test_does()
        djangos = state()
    finally:
        flush.install()
    assert set(ours["filled"]) == {"django_content_type", "auth_permission", "admin_interface_theme"}
    assert ours == djangos
