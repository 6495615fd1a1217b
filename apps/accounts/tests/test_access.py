import pytest

from apps.accounts import access
from apps.accounts.tests.factories import AdminFactory, SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.models import Conversation
from apps.conversations.tests.factories import ConversationFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """Two organisations; in the first, two teams on two numbers and their agents."""
    number_a = WhatsAppNumberFactory()
    org = number_a.organization
    number_b = WhatsAppNumberFactory(organization=org)
    agent_a = UserFactory(organization=org)
    agent_b = UserFactory(organization=org)
    team_a = TeamFactory(organization=org, members=[agent_a], numbers=[number_a])
    team_b = TeamFactory(organization=org, members=[agent_b], numbers=[number_b])
    other = ConversationFactory()  # another organisation
    convs = {
        "mine": ConversationFactory(organization=org, number=number_a, assignee=agent_a),
        "colleague": ConversationFactory(organization=org, number=number_a, assignee=agent_b),
        "unassigned_my_number": ConversationFactory(organization=org, number=number_a),
        "unassigned_other_number": ConversationFactory(organization=org, number=number_b),
        "routed_to_my_team": ConversationFactory(organization=org, number=number_b, team=team_a),
        "routed_to_other_team": ConversationFactory(organization=org, number=number_a, team=team_b),
        "other_org": other,
    }
    return {
        "org": org,
        "agent_a": agent_a,
        "admin": AdminFactory(organization=org),
        "supervisor": SupervisorFactory(organization=org),
        "convs": convs,
    }


def visible(user):
    return set(Conversation.objects.filter(access.conversation_filter(user)).values_list("pk", flat=True))


def test_agent_sees_own_and_unassigned_of_their_teams(world):
    convs = world["convs"]
    expected = {convs[k].pk for k in ("mine", "unassigned_my_number", "routed_to_my_team")}
    assert visible(world["agent_a"]) == expected
    for name, conv in convs.items():
        assert access.can_view_conversation(world["agent_a"], conv) == (conv.pk in expected), name


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_admin_and_supervisor_see_their_whole_organisation_only(world, role):
    user = world[role]
    expected = {c.pk for k, c in world["convs"].items() if k != "other_org"}
    assert visible(user) == expected
    assert not access.can_view_conversation(user, world["convs"]["other_org"])


@pytest.mark.parametrize("role", ["agent_a", "admin", "supervisor"])
def test_the_narrowed_rules_are_the_rule_intersected_with_mine_or_unassigned(world, role):
    # The inbox's "mine" and "unassigned" views use the rule of that part alone (an
    # ordered index scan); it must select exactly what the whole rule does there.
    user = world[role]
    everything = Conversation.objects.filter(access.conversation_filter(user))

    def pks(queryset):
        return set(queryset.values_list("pk", flat=True))

    mine = pks(Conversation.objects.filter(access.conversation_filter(user, assignee="me")))
    unassigned = pks(Conversation.objects.filter(access.conversation_filter(user, assignee="none")))
    assert mine == pks(everything.filter(assignee_id=user.id))
    assert unassigned == pks(everything.filter(assignee__isnull=True))
    if role == "agent_a":
        convs = world["convs"]
        assert mine == {convs["mine"].pk}
        assert unassigned == {convs["unassigned_my_number"].pk, convs["routed_to_my_team"].pk}
    user.is_active = False
    user.save()
    for narrowed in ("me", "none"):
        assert not Conversation.objects.filter(access.conversation_filter(user, assignee=narrowed)).exists()


@pytest.mark.parametrize("assignee", [None, "none"])
def test_with_subqueries_the_rule_is_one_statement_selecting_the_same(world, assignee, django_assert_num_queries):
    agent = world["agent_a"]
    convs = world["convs"]
    with django_assert_num_queries(1):
        found = set(Conversation.objects.filter(access.conversation_filter(agent, assignee=assignee, subqueries=True))
                    .values_list("pk", flat=True))
    expected = {convs["unassigned_my_number"].pk, convs["routed_to_my_team"].pk}
    assert found == (expected if assignee else expected | {convs["mine"].pk})


def test_inactive_or_organisationless_users_see_nothing(world):
    agent = world["agent_a"]
    agent.is_active = False
    agent.save()
    assert visible(agent) == set()
    assert not access.can_view_conversation(agent, world["convs"]["mine"])


def test_assignment_rights(world):
    agent, supervisor, convs = world["agent_a"], world["supervisor"], world["convs"]
    assert access.can_assign(agent, convs["unassigned_my_number"], assignee=agent)
    assert not access.can_assign(agent, convs["unassigned_my_number"], assignee=supervisor)
    assert not access.can_assign(agent, convs["colleague"], assignee=agent)
    assert access.can_assign(agent, convs["mine"], assignee=None)
    assert access.can_assign(supervisor, convs["colleague"], assignee=agent)
    outsider = UserFactory()
    assert not access.can_assign(supervisor, convs["colleague"], assignee=outsider)


def test_reports_and_settings_rights(world):
    assert not access.can_view_reports(world["agent_a"])
    assert access.can_view_reports(world["supervisor"])
    assert not access.can_manage_settings(world["supervisor"])
    assert access.can_manage_settings(world["admin"])


def test_an_agents_teams_and_their_numbers_are_read_in_one_query(world, django_assert_num_queries):
    org = world["org"]
    agent = world["agent_a"]
    team_a = agent.teams.get()
    extra_number = WhatsAppNumberFactory(organization=org)
    shared = WhatsAppNumberFactory(organization=org)
    team_a.numbers.add(shared)
    TeamFactory(organization=org, members=[agent], numbers=[shared, extra_number])
    empty = TeamFactory(organization=org, members=[agent])
    TeamFactory(organization=org, numbers=[WhatsAppNumberFactory(organization=org)])  # not theirs
    with django_assert_num_queries(1):
        scope = access.team_scope(agent)
    assert scope.team_ids == sorted(agent.teams.values_list("pk", flat=True)) and empty.pk in scope.team_ids
    assert scope.number_ids == sorted(set(access.team_number_ids(agent)))
    assert set(scope.number_ids) == {team_a.numbers.exclude(pk=shared.pk).get().pk, shared.pk, extra_number.pk}
    assert access.team_scope(world["supervisor"]) == access.TeamScope(team_ids=[], number_ids=[])


def test_in_a_request_an_agents_teams_are_read_once_and_again_after_a_change(world, django_assert_num_queries):
    agent = world["agent_a"]
    convs = world["convs"]
    with access.request_scope():
        with django_assert_num_queries(1):
            for _ in range(3):
                rule = access.conversation_filter(agent, subqueries=True)
            assert access.can_view_conversation(agent, convs["unassigned_my_number"])
        assert set(Conversation.objects.filter(rule).values_list("pk", flat=True)) == visible(agent)
        team = agent.teams.get()
        team.members.remove(agent)  # a change in the same request: read again
        assert not access.can_view_conversation(agent, convs["unassigned_my_number"])
        team.members.add(agent)
        team.numbers.clear()
        assert not access.can_view_conversation(agent, convs["unassigned_my_number"])
    # Outside a request each rule reads them (no scope kept between requests).
    team.numbers.add(convs["unassigned_my_number"].number)
    assert access.can_view_conversation(agent, convs["unassigned_my_number"])


def test_a_page_reads_an_agents_teams_once(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent = world["agent_a"]
    client.force_login(agent)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/inbox/c/{world['convs']['unassigned_my_number'].pk}/").status_code == 200
    teams = [q for q in queries.captured_queries if 'FROM "accounts_team"' in q["sql"]]
    assert len(teams) == 1, [q["sql"][:120] for q in teams]
