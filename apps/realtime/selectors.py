"""Reads for the inbox websocket, scoped to what the user may see now."""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import import_module

from django.conf import settings

from . import groups as group_names
from . import replay

# Why a socket must close (see consumers.CLOSE_*): signed out, or credentials changed.
SIGNED_OUT = "signed_out"
RECONNECT = "reconnect"

# A conversation the user may not see now is replayed only as this stub of its last
# conversation.updated (on reassignment that event goes to the groups that lost access):
# the client drops the row (its row partial answers 204). Its full data would tell a
# user newly added to a team, whose catch-up reads the team's log up to
# REALTIME_REPLAY_SECONDS back, the contact, phone and preview of conversations since
# given to others.
STUBBED_WHEN_HIDDEN = frozenset({"conversation.updated"})
# Events about a conversation or a contact: replayed only when the user may see it now
# (one whose subject cannot be read is not replayed). Other events (presence,
# availability, a number's token alert) carry no customer data and go to groups the
# user belongs to now.
CONVERSATION_EVENTS = ("conversation.", "message.", "note.")
CONTACT_EVENTS = ("contact.",)


def removed_stub(conversation_id: int) -> dict:
    return {"id": conversation_id, "removed": True}


def _contact_id(entry: replay.Entry) -> int | None:
    value = entry.data.get("id") if isinstance(entry.data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def catch_up_events(*, user, groups: list[str], since: str) -> list[replay.Entry]:
    """The events of `groups` after the cursor `since` (from a little before it: see
    replay.MARGIN_MS) as `user` may see them now, in id order: those of conversations
    and contacts the user may not see are left out, but for one stub per hidden
    conversation (STUBBED_WHEN_HIDDEN).

    Raises replay.Reset when the gap is older than what is kept, or larger than
    REALTIME_CATCH_UP_MAX events (a reload over HTTP is then cheaper)."""
    from apps.accounts import access
    from apps.conversations.models import Contact, Conversation

    try:
        entries = replay.get_log().read(groups, since, settings.REALTIME_CATCH_UP_MAX)
    except ValueError:
        raise replay.Reset() from None
    conversation_ids = {e.conversation_id for e in entries if e.conversation_id is not None}
    contact_ids = {_contact_id(e) for e in entries if e.event.startswith(CONTACT_EVENTS)} - {None}
    visible = set()
    if conversation_ids:
        visible = set(Conversation.objects.filter(access.conversation_filter(user), pk__in=conversation_ids)
                      .values_list("pk", flat=True))
    visible_contacts = set()
    if contact_ids:
        visible_contacts = set(Contact.objects.filter(access.contact_filter(user), pk__in=contact_ids)
                               .values_list("pk", flat=True))
    # The last stubbed event of each hidden conversation: one stub says all there is.
    last_stub = {
        e.conversation_id: e.id for e in entries
        if e.conversation_id is not None and e.conversation_id not in visible and e.event in STUBBED_WHEN_HIDDEN
    }
    kept = []
    for entry in entries:
        if entry.conversation_id is not None:
            if entry.conversation_id in visible:
                kept.append(entry)
            elif last_stub.get(entry.conversation_id) == entry.id:
                kept.append(replace(entry, data=removed_stub(entry.conversation_id)))
        elif entry.event.startswith(CONTACT_EVENTS):
            if _contact_id(entry) in visible_contacts:
                kept.append(entry)
        elif not entry.event.startswith(CONVERSATION_EVENTS):
            kept.append(entry)
    return kept


def user_groups(user) -> list[str]:
    """The groups whose events `user` may receive, as the user is now (mirrors accounts.access)."""
    from apps.accounts import access

    if not access.is_member(user):
        return []
    names = [group_names.user(user.id), group_names.org_members(user.organization_id)]
    if user.is_supervisor_or_admin:
        names.append(group_names.org_supervisors(user.organization_id))
    else:
        names += [group_names.team(team_id) for team_id in access.team_ids(user)]
        names += [group_names.number(number_id) for number_id in access.team_number_ids(user)]
    return names


@dataclass(frozen=True)
class SocketRights:
    user: object | None  # as stored now
    groups: list[str]
    close: str | None  # SIGNED_OUT, RECONNECT, or None to stay open


def socket_rights(*, user_id: int, session_key: str | None, connected_hash: str | None) -> SocketRights:
    """What the socket of `user_id`, opened with the session `session_key` whose auth
    hash was `connected_hash`, may receive now; or why it must close.

    It closes when the user is gone, inactive or of no organisation, when the session
    was ended (logout, deactivation, expiry) or no longer authenticates (the password
    changed in another browser), and asks for a reconnect when the session was carried
    over to new credentials (the user changed their own password in this browser)."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.utils.crypto import constant_time_compare

    from apps.accounts import access
    from apps.accounts.models import User

    user = User.objects.filter(pk=user_id).first()
    if not access.is_member(user) or not session_key:
        return SocketRights(None, [], SIGNED_OUT)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    current = user.get_session_auth_hash()
    session_hash = session.get(HASH_SESSION_KEY) or ""
    if session.get(SESSION_KEY) != str(user.pk) or not constant_time_compare(session_hash, current):
        return SocketRights(None, [], SIGNED_OUT)
    if not constant_time_compare(connected_hash or "", current):
        return SocketRights(None, [], RECONNECT)
    return SocketRights(user, user_groups(user), None)
