"""The WhatsApp Business app's items of a delivery (coexistence): the business's
messages sent from the app and the shared chat history (messaging's
`business_messages_receive`), the phone's address book (conversations'
`contacts_address_book_apply`). Batched per number, like customers' messages."""

from __future__ import annotations

import logging

from apps.providers import events as ev

logger = logging.getLogger(__name__)


def business_app_apply(*, number, items: list) -> None:
    """Apply one number's BusinessMessage and AddressBookChange items."""
    from apps.conversations.services import (
        AddressBookEntry,
        contacts_address_book_apply,
    )
    from apps.messaging.services.business_app import business_messages_receive

    messages = [item for item in items if isinstance(item, ev.BusinessMessage)]
    if messages:
        business_messages_receive(number=number, events=messages)
    entries = [
        AddressBookEntry(
            wa_id=item.wa_id,
            action=item.action,
            name=item.full_name or item.first_name,
            at=item.timestamp,
        )
        for item in items
        if isinstance(item, ev.AddressBookChange)
    ]
    if entries:
        contacts_address_book_apply(organization=number.organization, entries=entries)


def business_app_apply_batches(
    *, numbers: dict, batches: dict[str, list], savepoint, isolated: bool
) -> list:
    """`business_app_apply` per number, each in `savepoint(isolated)`. Returns the
    (run, item) pairs of the numbers whose batch failed, to be handled one by one
    (raises instead when not `isolated`, as the drain's first try wants)."""
    failed = []
    for phone_number_id, pairs in batches.items():
        number = numbers[phone_number_id]
        try:
            with savepoint(isolated):
                business_app_apply(number=number, items=[item for _, item in pairs])
        except Exception:
            if not isolated:
                raise
            logger.warning(
                "batch of %d Business app items failed; one by one",
                len(pairs),
                exc_info=True,
            )
            failed.extend(pairs)
            continue
        for run, item in pairs:
            run.route(number, item, phone_number_id)
    return failed
