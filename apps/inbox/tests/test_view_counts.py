"""The counts of Mine, Unassigned and All are those of the access rule itself, for
every role, status, number and label (each part is counted from its own index), and
the unread mentions those of the mentions' own rule, in the same statement."""

import itertools

import pytest
from django.utils import timezone

from apps.accounts import access
from apps.accounts.tests.factories import TeamFactory, UserFactory
from apps.conversations.models import Conversation, NoteMention
from apps.conversations.selectors import InboxFilter
from apps.conversations.tests.factories import ConversationFactory, NoteFactory
from apps.messaging.selectors.inbox_views import inbox_view_counts
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def expected(user, filters: InboxFilter) -> dict[str, int]:
    visible = Conversation.objects.filter(access.conversation_filter(user))
    if filters.status != "any":
        visible = visible.filter(status=filters.status)
    if filters.number_id is not None:
        visible = visible.filter(number_id=filters.number_id)
    if filters.label_id is not None:
        visible = visible.filter(labels__id=filters.label_id)
    return {"all": visible.count(), "mine": visible.filter(assignee_id=user.id).count(),
            "unassigned": visible.filter(assignee__isnull=True).count(),
            "unread_mentions": NoteMention.objects.filter(
                user=user, read_at__isnull=True,
                note__conversation__in=Conversation.objects.filter(access.conversation_filter(user))).count()}


def test_the_counts_are_the_access_rules_for_every_role_and_filter(world, django_assert_num_queries):
    org = world.org
    other_number = WhatsAppNumberFactory(organization=org)
    other_team = TeamFactory(organization=org, numbers=[other_number])
    stranger = UserFactory(organization=org)
    for status, number, assignee, team in itertools.product(
            ["open", "pending", "resolved"], [world.number, other_number],
            [None, world.agent, world.colleague, stranger], [None, world.team, other_team]):
        conversation = ConversationFactory(organization=org, number=number, assignee=assignee, team=team,
                                           status=status, contact__organization=org)
        if status == "open" and team is None:
            conversation.labels.add(world.label)
    # Mentions of the agent and the colleague in a dozen conversations (some they no
    # longer see), some of them read.
    for conversation in Conversation.objects.filter(organization=org).order_by("pk")[:12]:
        note = NoteFactory(conversation=conversation, author=world.supervisor)
        for user in (world.agent, world.colleague):
            NoteMention.objects.create(note=note, user=user)
    NoteMention.objects.filter(user=world.colleague, note__conversation__status="pending").update(
        read_at=timezone.now())
    ConversationFactory.create_batch(3, organization=world.foreign_org, number=world.foreign.number,
                                     contact__organization=world.foreign_org)
    filters = [InboxFilter(), InboxFilter(status="any"), InboxFilter(status="pending"),
               InboxFilter(number_id=other_number.pk, status="any"), InboxFilter(label_id=world.label.pk)]
    for user in (world.agent, world.colleague, world.supervisor, world.admin, world.foreign_user):
        for f in filters:
            want = expected(user, f)
            with django_assert_num_queries(1):
                got = inbox_view_counts(user=user, filters=f)
            assert got == want, (user.username, f)
    # The agent sees some of each part, so the sums are not trivially zero.
    assert all(expected(world.agent, InboxFilter(status="any"))[part] > 1
               for part in ("mine", "unassigned", "unread_mentions"))
    assert 0 < expected(world.agent, InboxFilter())["unread_mentions"] < 12
