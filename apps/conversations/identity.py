"""Who a customer is at the provider, independent of the provider.

Meta identifies a customer by the phone-based WhatsApp id (wa_id) and, since 2026,
by a business-scoped user id (BSUID, `user_id`; `parent_user_id` when the business
has several portfolios). A customer who uses a WhatsApp username may come with the
user id alone. Other providers map their own addresses onto the same fields (a
phone number to `wa_id`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    wa_id: str = ""
    user_id: str = ""
    parent_user_id: str = ""
    username: str = ""

    @property
    def key(self) -> str:
        """The customer's key among others of one batch: the wa_id, or the user id."""
        return self.wa_id or self.user_id
