"""Database connections around Celery tasks (config/celery.py)."""

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection

from config.celery import _database_connections_around_task, app


def _task():
    return SimpleNamespace(request=SimpleNamespace())


def test_celery_fixup_does_not_close_connections_after_every_task():
    assert app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX >= 100


@pytest.mark.django_db(transaction=True)
def test_a_usable_connection_is_kept_between_tasks_an_obsolete_one_closed():
    connection.ensure_connection()
    before = connection.connection
    connection.close_at = None  # CONN_MAX_AGE None: never obsolete
    _database_connections_around_task(sender=_task())
    assert connection.connection is before
    connection.close_at = 0  # past its CONN_MAX_AGE
    _database_connections_around_task(sender=_task())
    assert connection.connection is None


