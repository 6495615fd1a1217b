"""The periodic rights check reads every socket of a process at once
(selectors.sockets_rights): the same answer as one socket's check, with a fixed
number of queries however many sockets."""

import pytest
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts.models import User
from apps.accounts.tests.factories import SupervisorFactory, TeamFactory, UserFactory
from apps.live import selectors
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def opened(user) -> tuple[int, str, str]:
    """A socket of `user`: (user id, its session key, the session's auth hash at connect)."""
    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value
    return user.pk, key, Session.objects.get(session_key=key).get_decoded()[HASH_SESSION_KEY]


def sockets_of_every_kind():
    first, second = WhatsAppNumberFactory(), None
    org = first.organization
    second = WhatsAppNumberFactory(organization=org)
    agent, teamless, gone = UserFactory(organization=org), UserFactory(organization=org), UserFactory(organization=org)
    TeamFactory(organization=org, members=[agent], numbers=[first])
    TeamFactory(organization=org, members=[agent], numbers=[first, second])
    supervisor = SupervisorFactory(organization=org)
    deactivated, logged_out, new_password = (UserFactory(organization=org) for _ in range(3))
    sockets = [opened(user) for user in (agent, teamless, supervisor, deactivated, logged_out, new_password, gone)]
    sockets.append(opened(agent))  # a second socket of the same user
    sockets.append((supervisor.pk, None, None))  # no session at all
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    Session.objects.filter(session_key=sockets[4][1]).delete()
    new_password.set_password("another-password-123")
    new_password.save()
    gone.delete()
    return sockets


def test_many_sockets_at_once_are_answered_as_each_alone():
    sockets = sockets_of_every_kind()
    together = selectors.sockets_rights(sockets)
    alone = [selectors.sockets_rights([socket])[0] for socket in sockets]
    assert [(r.close, sorted(r.groups), getattr(r.user, "pk", None)) for r in together] == [
        (r.close, sorted(r.groups), getattr(r.user, "pk", None)) for r in alone]
    closes = [r.close for r in together]
    assert closes == [None, None, None, selectors.SIGNED_OUT, selectors.SIGNED_OUT, selectors.SIGNED_OUT,
                      selectors.SIGNED_OUT, None, selectors.SIGNED_OUT]
    agent_groups = set(together[0].groups)
    # Both teams and the numbers of both, each once.
    assert len([g for g in together[0].groups if g.startswith("team.")]) == 2
    assert len(together[0].groups) == len(agent_groups)
    assert not [g for g in together[1].groups if g.startswith(("team.", "number."))]


def test_a_password_changed_keeping_the_session_asks_for_a_reconnect():
    user = UserFactory(organization=WhatsAppNumberFactory().organization)
    user_id, key, connected_hash = opened(user)
    user.set_password("another-password-123")
    user.save()
    session = Session.objects.get(session_key=key)
    data = session.get_decoded()
    data[HASH_SESSION_KEY] = user.get_session_auth_hash()  # update_session_auth_hash in this browser
    Session.objects.filter(session_key=key).update(session_data=Session.objects.encode(data))
    assert selectors.sockets_rights([(user_id, key, connected_hash)])[0].close == selectors.RECONNECT


def test_the_queries_do_not_grow_with_the_sockets(django_assert_max_num_queries):
    sockets = sockets_of_every_kind()
    with django_assert_max_num_queries(4):
        selectors.sockets_rights(sockets * 10)


def test_the_groups_of_an_agent_use_the_teams_or_numbers_given_and_read_the_rest(world):
    from apps.live.selectors import user_groups
    from apps.realtime import groups as group_names

    agent, number = world["agent_a"], world["number"]
    team_id = agent.teams.get().pk
    read = user_groups(agent)
    assert group_names.team(team_id) in read and group_names.number(number.pk) in read
    given_teams = user_groups(agent, team_ids=[])
    assert group_names.team(team_id) not in given_teams and group_names.number(number.pk) in given_teams
    given_numbers = user_groups(agent, number_ids=[])
    assert group_names.team(team_id) in given_numbers and group_names.number(number.pk) not in given_numbers
