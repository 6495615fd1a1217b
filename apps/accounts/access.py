"""Who may see and do what: the one place that decides.

Views, the REST API, websockets, selectors and admin all ask this module; none of
them repeats a role check of its own.

- Admin: everything in their organisation, numbers, users, templates, settings.
- Supervisor: every conversation of the organisation, assignment, reports.
- Agent: conversations assigned to them, and unassigned ones of their teams
  (a conversation routed to one of their teams, or arriving on one of their
  teams' numbers); no reports, no settings.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q

from .models import Team, User


def is_member(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.organization_id)


def _team_ids_query(user):
    return Team.objects.filter(members=user).values_list("id", flat=True)


def _team_number_ids_query(user):
    return Team.numbers.through.objects.filter(team__members=user).values_list("whatsappnumber_id", flat=True)


def team_ids(user) -> list[int]:
    return team_scope(user).team_ids


def team_number_ids(user) -> list[int]:
    return team_scope(user).number_ids


@dataclass(frozen=True)
class TeamScope:
    """An agent's teams and their teams' numbers, as read now."""

    team_ids: list[int]
    number_ids: list[int]


# Within one HTTP request (request_scope), each user's teams are read once, and every
# rule names their ids rather than repeating their subqueries. Outside a request (a
# websocket's long-lived user, a task) they are read each time.
_request_scopes: ContextVar[dict[int, TeamScope] | None] = ContextVar("access_team_scopes", default=None)


@contextmanager
def request_scope():
    token = _request_scopes.set({})
    try:
        yield
    finally:
        _request_scopes.reset(token)


def team_scopes_forget() -> None:
    """Teams or their members changed: what this request read of them is read again."""
    scopes = _request_scopes.get()
    if scopes:
        scopes.clear()


def team_scope(user) -> TeamScope:
    """The user's teams and their numbers, in one query (once per request)."""
    scopes = _request_scopes.get()
    if scopes is not None and user.pk in scopes:
        return scopes[user.pk]
    rows = (
        Team.objects.filter(members=user)
        .order_by()
        .values_list("id")
        .annotate(numbers=ArrayAgg("numbers__id", filter=Q(numbers__isnull=False), default=[]))
    )
    teams, numbers = [], set()
    for team_id, number_ids in rows:
        teams.append(team_id)
        numbers.update(number_ids)
    scope = TeamScope(team_ids=sorted(teams), number_ids=sorted(numbers))
    if scopes is not None:
        scopes[user.pk] = scope
    return scope


def conversation_filter(user, prefix: str = "", *, assignee: str | None = None, subqueries: bool = False) -> Q:
    """A Q for the conversations `user` may see; `prefix` reaches them through a relation
    (e.g. "conversation__" on messages).

    `assignee` narrows it: "me" to those assigned to the user, "none" to the unassigned
    ones. The Q is then the rule for that part alone, without the branches that cannot
    match it: PostgreSQL plans an OR as a bitmap of every branch and sorts the result,
    while each part alone is an ordered index scan of the inbox's ordering.

    An agent's teams and their numbers are read first (one query, and the planner
    sees their ids). With `subqueries`, outside a request (a task, a websocket), they are
    subqueries of the one statement instead; in a request they are read once for all of
    its rules, which costs less than building their subqueries into each."""
    if not is_member(user):
        return Q(pk__in=[])
    org = Q(**{f"{prefix}organization_id": user.organization_id})
    if assignee == "me":
        return org & Q(**{f"{prefix}assignee_id": user.id})
    staff = user.role in (User.Role.ADMIN, User.Role.SUPERVISOR)
    unassigned = Q(**{f"{prefix}assignee__isnull": True})
    if assignee == "none":
        return org & unassigned if staff else org & unassigned & _routed_to_my_teams(user, prefix, subqueries)
    if assignee is not None:
        raise ValueError(f"assignee must be 'me', 'none' or None, not {assignee!r}")
    if staff:
        return org
    routed = _routed_to_my_teams(user, prefix, subqueries)
    return org & (Q(**{f"{prefix}assignee_id": user.id}) | (unassigned & routed))


def _routed_to_my_teams(user, prefix: str, subqueries: bool = False) -> Q:
    """Routed to one of the user's teams, or to no team on one of their teams' numbers."""
    if subqueries and _request_scopes.get() is None:
        teams, numbers = _team_ids_query(user), _team_number_ids_query(user)
    else:
        scope = team_scope(user)
        teams, numbers = scope.team_ids, scope.number_ids
    return Q(**{f"{prefix}team_id__in": teams}) | Q(
        **{f"{prefix}team__isnull": True, f"{prefix}number_id__in": numbers}
    )


def can_view_conversation(user, conversation) -> bool:
    if not is_member(user) or conversation.organization_id != user.organization_id:
        return False
    if user.role in (User.Role.ADMIN, User.Role.SUPERVISOR):
        return True
    if conversation.assignee_id == user.id:
        return True
    if conversation.assignee_id is not None:
        return False
    if conversation.team_id is not None:
        return conversation.team_id in team_ids(user)
    return conversation.number_id in team_number_ids(user)


def can_act_on_conversation(user, conversation) -> bool:
    """Reply, note, label, change status: whoever may see the conversation."""
    return can_view_conversation(user, conversation)


def can_assign(user, conversation, assignee=None, team=None) -> bool:
    """Supervisors and admins assign anyone, and route to any team, of the organisation.
    An agent may take an unassigned conversation they can see, or hand their own back
    (assignee None), and route it only to a team they belong to."""
    if not can_view_conversation(user, conversation):
        return False
    for target in (assignee, team):
        if target is not None and target.organization_id != user.organization_id:
            return False
    if user.is_supervisor_or_admin:
        return True
    if team is not None and team.pk not in team_ids(user):
        return False
    if assignee is None:
        return conversation.assignee_id == user.id and team is None
    return assignee.id == user.id and conversation.assignee_id in (None, user.id)


def can_view_reports(user) -> bool:
    return is_member(user) and user.is_supervisor_or_admin


def can_manage_settings(user) -> bool:
    return is_member(user) and user.role == User.Role.ADMIN


def can_use_integration_api(user) -> bool:
    """Business systems authenticate with a token of an admin (or a dedicated
    integration user with the admin role)."""
    return can_manage_settings(user)


def is_platform_admin(user) -> bool:
    """A superuser of the platform itself: no organisation, every organisation's rows."""
    return bool(
        user and user.is_authenticated and user.is_active and user.is_superuser and user.organization_id is None
    )


def can_use_admin(user) -> bool:
    """Django admin: platform superusers, and staff admins of an organisation (who see
    and change only their organisation's rows)."""
    if is_platform_admin(user):
        return True
    return bool(user and user.is_authenticated and user.is_staff and can_manage_settings(user))
