"""What every provider package gives the inbound pipeline (apps/inbound): its
deliveries read into typed events (apps.providers.events), and whose data each part
of a delivery is. A provider adds a module with one `InboundFormat` and a line in
apps/providers/__init__.py; the pipeline stores, drains, routes, retries and replays
its deliveries as it does Meta's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .events import Event

# Whose data a part of a delivery's body is: ("number", the provider's id of a business
# number), ("waba", the provider's id of a business account) or ("", "") for a part
# naming no one. The pipeline gives a delivery to an organisation only when every part
# is that organisation's (apps.inbound.services.ownership).
Part = tuple[str, str]


class UnusableBody(ValueError):
    """A delivery the provider's parser cannot use at all: it is kept, marked rejected,
    and never retried (retrying cannot make it better)."""


@dataclass(frozen=True)
class Delivery:
    """One delivery read: whose each part is, and its items as typed events."""

    parts: list[Part]
    items: list[Event]


class InboundFormat(Protocol):
    def read(self, body: bytes) -> Delivery:
        """The delivery in `body` (the raw bytes as received); raises UnusableBody."""
        ...  # pragma: no cover

    def parts(self, body: bytes) -> list[Part]:
        """Only whose each part of `body` is, also for a body whose items cannot be
        read (ownership of what admin shows); raises UnusableBody."""
        ...  # pragma: no cover
