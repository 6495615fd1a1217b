"""What a number's WhatsApp Business Account offers the composer: its published Flows
and its connected catalog, read from Meta through the provider package and kept in
the cache for ASSETS_CACHE_SECONDS (both change rarely, and the composer asks for them
each time its pop-up opens). A failed read is not kept: the composer shows its reason
and the next opening asks Meta again."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache

from apps.providers.meta import commerce, flows
from apps.providers.meta.client import GraphAPIError, client_for

from .models import Provider

logger = logging.getLogger(__name__)

ASSETS_CACHE_SECONDS = 600
_META_PROVIDERS = (Provider.META, Provider.SIMULATOR)


@dataclass(frozen=True)
class Read:
    """What was read (`value`), or why it could not be (`error`)."""

    value: object = None
    error: str = ""


def _key(kind: str, number) -> str:
    return f"whatsapp:{kind}:{number.pk}:{number.waba_id}"


def _read(kind: str, number, reader) -> Read:
    if number.provider not in _META_PROVIDERS or not number.waba_id:
        return Read()
    key = _key(kind, number)
    cached = cache.get(key)
    if cached is not None:
        return Read(value=cached)
    try:
        value = reader(client_for(number), number.waba_id)
    except GraphAPIError as error:
        logger.info("number %s: %s not read: %s", number.pk, kind, error)
        return Read(error=str(error))
    cache.set(key, value, ASSETS_CACHE_SECONDS)
    return Read(value=value)


def number_flows(number) -> Read:
    """The account's published Flows (a list of flows.Flow, by name)."""
    return _read("flows", number, flows.published_flows)


def number_catalog(number) -> Read:
    """The account's connected catalog (commerce.Catalog), or a Read whose value is
    False when none is connected."""
    return _read("catalog", number, lambda client, waba: commerce.connected_catalog(client, waba) or False)


def assets_forget(number) -> None:
    """Read again at the next use (after a Flow is published or a catalog connected)."""
    cache.delete_many([_key("flows", number), _key("catalog", number)])
