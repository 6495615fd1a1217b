"""conversation_event_data: the one builder of a conversation for the REST API and the
live events (ConversationSerializer's output) fills exactly the fields the serializer
declares (the OpenAPI schema), with the values DRF's own field machinery gives."""

import json
from datetime import timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from rest_framework import serializers

from apps.accounts.tests.factories import TeamFactory, UserFactory
from apps.conversations.models import Conversation
from apps.conversations.serializers import ConversationSerializer, conversation_event_data
from apps.conversations.tests.factories import ContactFactory, ConversationFactory, LabelFactory

pytestmark = pytest.mark.django_db


def plain(data):
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def test_the_event_data_is_the_serializers_for_every_kind_of_conversation():
    now = timezone.now()
    plain_one = ConversationFactory(last_message_at=None, last_customer_message_at=None)
    org = plain_one.organization
    agent = UserFactory(organization=org, display_name="Agent Ana")
    team = TeamFactory(organization=org)
    assigned = ConversationFactory(organization=org, assignee=agent, team=team, priority=3, unread_count=4,
                                   last_message_preview="Olá ✓", bot_active=True)
    assigned.labels.set([LabelFactory(organization=org, name="vip", color="#ff0000"),
                         LabelFactory(organization=org, name="billing")])
    snoozed = ConversationFactory(organization=org, status=Conversation.Status.SNOOZED,
                                  snoozed_until=now + timedelta(hours=2), team=team)
    resolved = ConversationFactory(organization=org, status=Conversation.Status.RESOLVED, resolved_at=now,
                                   contact=ContactFactory(organization=org, name="Named", opted_out=True,
                                                          opted_out_at=now, opt_out_reason="keyword: STOP",
                                                          marketing_opted_out=True, attributes={"plan": ["gold", 1]}))
    no_name = ConversationFactory(organization=org, contact=ContactFactory(organization=org, profile_name=""))
    rows = list(Conversation.objects.filter(pk__in=[c.pk for c in (plain_one, assigned, snoozed, resolved, no_name)])
                .select_related("contact", "assignee").prefetch_related("labels").order_by("pk"))
    serializer = ConversationSerializer()
    for row in rows:
        by_fields = serializers.ModelSerializer.to_representation(serializer, row)
        assert plain(conversation_event_data(row)) == plain(by_fields)
        assert ConversationSerializer(row).data == conversation_event_data(row)
    shown = {row.pk: plain(conversation_event_data(row)) for row in rows}
    assert shown[assigned.pk]["assignee_name"] == "Agent Ana" and len(shown[assigned.pk]["labels"]) == 2
    assert shown[resolved.pk]["contact"]["attributes"] == {"plan": ["gold", 1]}
