"""Reads for the inbox websocket, scoped to what the user may see now."""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import import_module

from django.conf import settings

from apps.realtime import groups as group_names
from apps.realtime import replay
from apps.realtime.publish import removed_stub

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
    from apps.conversations import access as contact_access
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
        visible_contacts = set(Contact.objects.filter(contact_access.contact_filter(user), pk__in=contact_ids)
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


def user_groups(user, *, team_ids: list[int] | None = None, number_ids: list[int] | None = None) -> list[str]:
    """The groups whose events `user` may receive, as the user is now (mirrors
    accounts.access). `team_ids` and `number_ids`: the agent's teams and their numbers,
    when read already (sockets_rights reads them for many users at once)."""
    from apps.accounts import access

    if not access.is_member(user):
        return []
    names = [group_names.user(user.id), group_names.org_members(user.organization_id)]
    if user.is_supervisor_or_admin:
        names.append(group_names.org_supervisors(user.organization_id))
    else:
        if team_ids is None or number_ids is None:
            scope = access.team_scope(user)
            team_ids = scope.team_ids if team_ids is None else team_ids
            number_ids = scope.number_ids if number_ids is None else number_ids
        names += [group_names.team(team_id) for team_id in team_ids]
        names += [group_names.number(number_id) for number_id in number_ids]
    return names


@dataclass(frozen=True)
class SocketRights:
    user: object | None  # as stored now
    groups: list[str]
    close: str | None  # SIGNED_OUT, RECONNECT, or None to stay open


def socket_rights(*, user_id: int, session_key: str | None, connected_hash: str | None) -> SocketRights:
    """What the socket of `user_id`, opened with the session `session_key` whose auth
    hash was `connected_hash`, may receive now; or why it must close (sockets_rights
    for one socket)."""
    return sockets_rights([(user_id, session_key, connected_hash)])[0]


def sockets_rights(sockets: list[tuple[int, str | None, str | None]]) -> list[SocketRights]:
    """What each socket (user id, the key of the session it was opened with, that
    session's auth hash then) may receive now, or why it must close, in order; for
    any number of sockets with a fixed number of queries (the users, their sessions,
    the agents' teams and the teams' numbers).

    A socket closes when its user is gone, inactive or of no organisation, when its
    session was ended (logout, deactivation, expiry) or no longer authenticates (the
    password changed in another browser), and is asked to reconnect when the session
    was carried over to new credentials (the user changed their own password in this
    browser)."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.utils.crypto import constant_time_compare

    from apps.accounts import access
    from apps.accounts.models import Team, User

    users = User.objects.in_bulk({user_id for user_id, _key, _hash in sockets})
    sessions = _sessions({key for _user, key, _hash in sockets if key})
    agents = [user.pk for user in users.values() if access.is_member(user) and not user.is_supervisor_or_admin]
    teams: dict[int, list[int]] = {}
    numbers: dict[int, list[int]] = {}
    if agents:
        memberships = list(Team.members.through.objects.filter(user_id__in=agents).values_list("user_id", "team_id"))
        team_numbers: dict[int, list[int]] = {}
        for team_id, number_id in Team.numbers.through.objects.filter(
                team_id__in={team_id for _user, team_id in memberships}).values_list("team_id", "whatsappnumber_id"):
            team_numbers.setdefault(team_id, []).append(number_id)
        for user_id, team_id in memberships:
            teams.setdefault(user_id, []).append(team_id)
            numbers.setdefault(user_id, []).extend(team_numbers.get(team_id, []))
    hashes: dict[int, str] = {}
    found = []
    for user_id, session_key, connected_hash in sockets:
        user = users.get(user_id)
        session = sessions.get(session_key) if session_key else None
        if not access.is_member(user) or session is None:
            found.append(SocketRights(None, [], SIGNED_OUT))
            continue
        if user_id not in hashes:
            hashes[user_id] = user.get_session_auth_hash()
        current = hashes[user_id]
        if session.get(SESSION_KEY) != str(user.pk) or not constant_time_compare(
                session.get(HASH_SESSION_KEY) or "", current):
            found.append(SocketRights(None, [], SIGNED_OUT))
        elif not constant_time_compare(connected_hash or "", current):
            found.append(SocketRights(None, [], RECONNECT))
        else:
            found.append(SocketRights(user, user_groups(user, team_ids=sorted(teams.get(user_id, [])),
                                                        number_ids=sorted(set(numbers.get(user_id, [])))), None))
    return found


def _sessions(keys: set[str]) -> dict[str, dict]:
    """The live sessions of `keys`, decoded: with one query when the session engine
    keeps them in the database (db, cached_db: the database holds every write), else
    one load each. A key with no live session is absent."""
    from django.utils import timezone

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not keys:
        return {}
    if hasattr(store_class, "get_model_class"):
        decoder = store_class()
        rows = store_class.get_model_class().objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
        return {row.session_key: decoder.decode(row.session_data) for row in rows}
    found = {}
    for key in keys:
        store = store_class(key)
        data = store.load()
        if store.session_key is not None and data:
            found[key] = data
    return found
