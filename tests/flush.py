"""The flush that ends each transactional test (Django's `flush` command), made cheap
without changing what it leaves: every table empty, then the rows post_migrate writes.

1. The tables are emptied with DELETE instead of TRUNCATE. TRUNCATE gives each of the
   ~150 tables (and their indexes) new files, about 0.2 s a flush whatever they hold;
   after a test most are empty, and a DELETE of an empty table costs nothing. The tables
   are locked as TRUNCATE locks them (a writer still in a transaction is waited for),
   and the foreign keys, deferred as Django declares them, are checked at the commit,
   when every table is empty.

2. post_migrate then writes the content types, the permissions and the admin theme
   again, about 0.08 s of queries. The first flush of the session runs it and keeps a
   copy of those rows (in a schema of the test database that no model uses); the next
   flushes put the copy back in one statement and clear the two caches the receivers
   clear (content types, the admin's active theme). The rows are the same but for
   their ids, which no longer change from one test to the next. If post_migrate has a
   receiver other than the three known ones, or its first run leaves rows in another
   table, every flush runs post_migrate itself.

Other flushes (sequences reset, cascades, a database that is not PostgreSQL) are the
command's own.
"""

from __future__ import annotations

import weakref

from django.core.management.commands import flush as flush_command
from django.db import connections, transaction

SNAPSHOT_SCHEMA = "test_flush_snapshot"

_original_sql_flush = flush_command.sql_flush
_original_emit = flush_command.emit_post_migrate_signal
_flushed_by_delete: set[str] = set()  # aliases whose last flush was ours
_snapshots: dict[str, list[str] | None] = {}  # database name: tables copied (None: not possible)


def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
    _flushed_by_delete.discard(connection.alias)
    if reset_sequences or allow_cascade or connection.vendor != "postgresql":
        return _original_sql_flush(style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    if not tables:
        return []
    _flushed_by_delete.add(connection.alias)
    quoted = [connection.ops.quote_name(table) for table in tables]
    return [
        f"LOCK TABLE {', '.join(quoted)} IN ACCESS EXCLUSIVE MODE",
        "SET CONSTRAINTS ALL DEFERRED",
        "; ".join(f"DELETE FROM {table}" for table in quoted),
    ]


def _known_receivers_only() -> bool:
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes
    from django.db.models.signals import post_migrate

    from apps.core.site_theme import ensure_theme

    known = {create_contenttypes, create_permissions, ensure_theme}
    receivers = {ref() if isinstance(ref, weakref.ReferenceType) else ref for _key, ref, *_rest in post_migrate.receivers}
    return receivers <= known


def _snapshot(connection) -> list[str] | None:
    """Copy the tables post_migrate filled; None if that is not only the known ones."""
    from admin_interface.models import Theme
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    if not _known_receivers_only():
        return None
    expected = {model._meta.db_table for model in (ContentType, Permission, Theme)}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        filled = set()
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")
            if cursor.fetchone()[0]:
                filled.add(table)
        if filled != expected:
            return None
        tables = sorted(filled)
        with transaction.atomic(using=connection.alias):
            cursor.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE")
            cursor.execute(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}")
            for table in tables:
                cursor.execute(f"CREATE TABLE {SNAPSHOT_SCHEMA}.{quote(table)} AS TABLE {quote(table)}")
    return tables


def emit_post_migrate_signal(verbosity, interactive, db, **kwargs):
    connection = connections[db]
    if db not in _flushed_by_delete:
        return _original_emit(verbosity, interactive, db, **kwargs)
    _flushed_by_delete.discard(db)
    name = connection.settings_dict["NAME"]
    if name not in _snapshots:
        _original_emit(verbosity, interactive, db, **kwargs)
        _snapshots[name] = _snapshot(connection)
        return None
    tables = _snapshots[name]
    if tables is None:
        return _original_emit(verbosity, interactive, db, **kwargs)
    from admin_interface.cache import del_cached_active_theme
    from django.contrib.contenttypes.models import ContentType

    quote = connection.ops.quote_name
    with transaction.atomic(using=db), connection.cursor() as cursor:
        cursor.execute("; ".join(f"INSERT INTO {quote(table)} SELECT * FROM {SNAPSHOT_SCHEMA}.{quote(table)}"
                                 for table in tables))
    ContentType.objects.clear_cache()
    del_cached_active_theme()
    return None


def install() -> None:
    flush_command.sql_flush = sql_flush
    flush_command.emit_post_migrate_signal = emit_post_migrate_signal


def uninstall() -> None:
    flush_command.sql_flush = _original_sql_flush
    flush_command.emit_post_migrate_signal = _original_emit
