"""The providers: one package per provider of WhatsApp messaging (floor 4 of the
house, docs/architecture.md). Each holds webhook verification, the pure parser to typed
events (apps.providers.events), the client returning typed outcomes, the error table and
the capabilities, and imports nothing from the domain. `inbound_formats` names each
provider's reader of deliveries (apps.providers.base) for the inbound pipeline."""

_formats: dict = {}


def inbound_formats() -> dict:
    """Provider (a WebhookEvent's `provider`) -> the reader of its deliveries."""
    if not _formats:
        from .meta.inbound import FORMAT as META

        _formats.update({"meta": META, "simulator": META})
    return _formats


def inbound_format(provider: str):
    """The reader of `provider`'s webhook deliveries; LookupError for a provider
    without one (its deliveries wait as dead letters, replayable once it has one)."""
    try:
        return inbound_formats()[provider]
    except KeyError:
        raise LookupError(f"no inbound format for provider {provider!r}") from None
