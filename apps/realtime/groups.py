"""Channel-layer group names. A socket joins exactly the groups whose events its
user may see; publishers address a conversation's event to the groups that may
see that conversation now (see `conversation_groups`)."""


def org_supervisors(organization_id: int) -> str:
    """Admins and supervisors: every conversation of the organisation."""
    return f"org.{organization_id}.supervisors"


def org_members(organization_id: int) -> str:
    """Everyone of the organisation: presence and other non-customer events."""
    return f"org.{organization_id}.members"


def user(user_id: int) -> str:
    return f"user.{user_id}"


def team(team_id: int) -> str:
    """Agents of a team: unassigned conversations routed to the team."""
    return f"team.{team_id}"


def number(number_id: int) -> str:
    """Agents of the teams that serve a number: its unassigned, team-less conversations."""
    return f"number.{number_id}"


def conversation_groups(conversation) -> list[str]:
    """The groups that may see `conversation` as it is now (mirrors accounts.access)."""
    groups = [org_supervisors(conversation.organization_id)]
    if conversation.assignee_id is not None:
        groups.append(user(conversation.assignee_id))
    elif conversation.team_id is not None:
        groups.append(team(conversation.team_id))
    else:
        groups.append(number(conversation.number_id))
    return groups
