"""Readiness checks: each returns None when the dependency answers, or the error."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection


def check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def check_channel_layer() -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "no channel layer configured"
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "health.ping"})
    message = async_to_sync(layer.receive)(channel)
    return None if message.get("type") == "health.ping" else "unexpected reply"


def check_redis() -> str | None:
    """The Redis-protocol server of the cache (REDIS_URL, or the embedded Valkey)."""
    if not getattr(settings, "REDIS_URL", None):
        return "no REDIS_URL"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        return None if client.ping() else "no PONG"
    finally:
        client.close()


def check_broker() -> str | None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return None


def check_storage() -> str | None:
    name = default_storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as handle:
            if handle.read() != b"ok":
                return "read back differs"
    finally:
        default_storage.delete(name)
    return None


CHECKS = {
    "database": check_database,
    "redis": check_redis,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        try:
            error = check()
        except Exception as exc:  # a readiness probe reports, it does not crash
            error = f"{type(exc).__name__}: {exc}"
        results[name] = {"ok": error is None, **({"error": error} if error else {})}
    return results
