"""The conversations' use-cases, by concern: contacts (identity, profile, opt-outs),
merging (WhatsApp's own id confirmed, two contacts of one customer made one),
opening (a customer's conversation found, opened or woken), activity (the one writer of
last activity) and actions (what agents do: assign, status, labels, priority, bot,
notes), blocking (a customer blocked on a number, at WhatsApp)."""

from .contacts import (  # noqa: F401
    contact_get_or_create,
    contacts_get_or_create_many,
    _profile_name_refresh,
    _normalise_keyword,
    opt_keyword_match,
    contact_opt_out,
    contact_opt_in,
    _contact_opt_change,
    contact_marketing_preference_set,
    CONTACT_ATTRIBUTES_MAX_KEYS,
    CONTACT_ATTRIBUTE_VALUE_MAX,
    _contact_groups,
    _publish_contact,
    contact_update,
    contact_set_opt_out,
    contact_find_by_phone,
    contact_for_phone,
)
from .merging import contact_identity_change, contact_wa_id_confirm, contacts_merge  # noqa: F401
from .opening import (  # noqa: F401
    inbound_parties_many,
    _active_for_inbound,
    conversations_for_inbound_many,
    conversation_get_or_open,
    conversation_publish,
    conversation_for_inbound,
    _conversation_wake,
    conversation_wake_snoozed,
)
from .activity import (  # noqa: F401
    Activity,
    conversations_record_activity,
    conversation_record_inbound,
    conversations_record_inbound_many,
    conversation_record_outbound,
)
from .actions import (  # noqa: F401
    _audit,
    _publish_conversation,
    conversation_publish_lost,
    _require_act,
    conversation_assign,
    conversation_set_status,
    conversation_set_labels,
    conversation_set_priority,
    conversation_set_bot,
    MENTION_RE,
    note_mentioned_users,
    note_create,
    mentions_mark_read,
)
from .business_app import (  # noqa: F401
    AddressBookEntry,
    contacts_address_book_apply,
    conversations_for_history_many,
)
from .blocking import (  # noqa: F401
    block_error_text,
    contact_block,
    contact_unblock,
    number_blocked_list,
)
