"""Reads for the inbox websocket, scoped to what the user may see now."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from . import groups as group_names
from . import replay

# Why a socket must close (see consumers.CLOSE_*): signed out, or credentials changed.
SIGNED_OUT = "signed_out"
RECONNECT = "reconnect"

# Sent even for a conversation the user no longer sees: on reassignment it goes to the
# groups that lost access, so the client drops the conversation from its list.
ALWAYS_REPLAYED = frozenset({"conversation.updated"})


def catch_up_events(*, user, groups: list[str], since: str) -> list[replay.Entry]:
    """The events of `groups` after the cursor `since` (from a little before it: see
    replay.MARGIN_MS) that `user` may see now, in id order.

    Raises replay.Reset when the gap is older than what is kept, or larger than
    REALTIME_CATCH_UP_MAX events (a reload over HTTP is then cheaper)."""
    from apps.accounts import access
    from apps.conversations.models import Conversation

    try:
        entries = replay.get_log().read(groups, since, settings.REALTIME_CATCH_UP_MAX)
    except ValueError:
        raise replay.Reset() from None
    wanted = {e.conversation_id for e in entries if e.conversation_id is not None and e.event not in ALWAYS_REPLAYED}
    visible = set()
    if wanted:
        visible = set(
            Conversation.objects.filter(access.conversation_filter(user), pk__in=wanted).values_list("pk", flat=True)
        )
    return [
        e for e in entries
        if e.conversation_id is None or e.event in ALWAYS_REPLAYED or e.conversation_id in visible
    ]


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
