"""The typed events every provider's parser makes of a webhook delivery, and the
inbound pipeline routes to the domain's services (apps/inbound). Meta's parser is
apps/providers/meta/parser.py; another provider's parser makes the same events.

Each item of a delivery (a message, a status, a template notice...) becomes one
event. `path` tells where in the delivery it was ("entry[0].changes[1].messages[2]")
so an error on one item can be reported without losing the others. The names are
Meta's, the meanings general: `phone_number_id` is the provider's id of the business
number the item is for, `waba_id` the provider's id of the business account, `raw` the
item as the provider sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Event:
    path: str
    waba_id: str
    raw: dict


@dataclass(frozen=True)
class NumberEvent(Event):
    """An event about one business number (messages, statuses, preferences)."""

    phone_number_id: str
    display_phone_number: str


@dataclass(frozen=True)
class InboundMessage(NumberEvent):
    wamid: str
    # The customer: the phone-based WhatsApp id (`from`), absent for a customer who uses
    # a username and hides the phone, and the business-scoped user id (`from_user_id`,
    # or `user_id` of the delivery's contact), absent in deliveries before it existed.
    # At least one of the two is there.
    from_wa_id: str
    profile_name: str
    timestamp: datetime
    # Meta's type as sent ("text", "image", "edit", "some_future_type"...).
    type: str
    # The type's own object (`message[type]`), or {} when the type carries none.
    content: dict
    # Reply and forwarding context.
    reply_to_wamid: str = ""
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: dict | None = None
    referral: dict | None = None
    errors: list | None = None
    from_user_id: str = ""
    # The user id shared by the business's portfolios, and the customer's username.
    parent_user_id: str = ""
    username: str = ""

    @property
    def sender(self) -> str:
        """The customer's key within one delivery: the wa_id, or the user id without one."""
        return self.from_wa_id or self.from_user_id


@dataclass(frozen=True)
class StatusUpdate(NumberEvent):
    wamid: str
    status: str
    timestamp: datetime
    recipient_id: str = ""
    conversation: dict | None = None
    pricing: dict | None = None
    errors: list | None = None
    # The customer's business-scoped user id (and its portfolio-wide parent), when Meta
    # gives it: absent from deliveries before it existed.
    recipient_user_id: str = ""
    recipient_parent_user_id: str = ""
    # What the business sent along with the message (`biz_opaque_callback_data` of the
    # send), echoed by Meta in that message's statuses; "" when none was sent.
    biz_opaque_callback_data: str = ""


@dataclass(frozen=True)
class BusinessMessage(NumberEvent):
    """A message the business sent outside this product, from the WhatsApp Business app
    on the same number (Meta's `smb_message_echoes`), or one message of a chat the app
    shares on onboarding (`history`, either side). `outbound`: the business wrote it;
    `imported`: it comes from the shared history (`history_status`: the status the
    phone had for it, `chunk`: the history chunk's phase, order and progress)."""

    wamid: str
    # The customer of the chat: its phone-based WhatsApp id and/or business-scoped user id.
    customer_wa_id: str
    timestamp: datetime
    type: str
    content: dict
    outbound: bool = True
    imported: bool = False
    customer_user_id: str = ""
    profile_name: str = ""
    reply_to_wamid: str = ""
    history_status: str = ""
    chunk: dict | None = None

    @property
    def customer(self) -> str:
        return self.customer_wa_id or self.customer_user_id


@dataclass(frozen=True)
class AddressBookChange(NumberEvent):
    """A contact added, changed or removed in the address book of the phone that runs
    the WhatsApp Business app on this number (Meta's `smb_app_state_sync`)."""

    wa_id: str
    action: str  # "add" (also a change) or "remove"
    full_name: str = ""
    first_name: str = ""
    timestamp: datetime | None = None


@dataclass(frozen=True)
class CallUpdate(NumberEvent):
    """A WhatsApp call on this number (Meta's `calls` field): `event` "connect" (it
    rings), "terminate" (it ended: `status` COMPLETED or FAILED, with `start_time`,
    `end_time` and `duration` when it was picked up), or "status" (a business-initiated
    call RINGING, ACCEPTED or REJECTED, sent as a status with type call)."""

    call_id: str
    customer_wa_id: str
    event: str
    timestamp: datetime
    direction: str = ""  # USER_INITIATED or BUSINESS_INITIATED
    status: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    customer_user_id: str = ""
    profile_name: str = ""
    errors: list | None = None

    @property
    def customer(self) -> str:
        return self.customer_wa_id or self.customer_user_id


@dataclass(frozen=True)
class UserPreference(NumberEvent):
    wa_id: str
    category: str
    value: str
    timestamp: datetime | None


@dataclass(frozen=True)
class ValueErrors(NumberEvent):
    """Errors Meta attached to a change instead of messages (`value.errors`)."""

    errors: list


@dataclass(frozen=True)
class TemplateUpdate(Event):
    """message_template_status_update, message_template_quality_update, template_category_update,
    message_template_components_update."""

    field: str
    value: dict
    entry_time: int | None = None


@dataclass(frozen=True)
class AccountNotice(Event):
    """phone_number_quality_update, account_update and other account-level fields."""

    field: str
    event: str
    value: dict
    entry_time: int | None = None
    display_phone_number: str = ""


@dataclass(frozen=True)
class Malformed(Event):
    """An item that does not have the shape Meta documents: kept, never retried."""

    reason: str = ""
    extra: dict = field(default_factory=dict)
