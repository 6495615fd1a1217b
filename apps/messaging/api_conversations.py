"""The REST doors that read messages beside conversations: the conversation list
with its search by text, and a conversation's messages a page at a time. Their
filters and shapes are the conversations API's (apps.conversations.api)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import selectors as conversation_selectors
from apps.conversations.api import ConversationFilterSerializer
from apps.conversations.serializers import ConversationSerializer
from apps.core.api import validated_data

from .selectors import search, thread
from .serializers import MessageSerializer


class MessagePageQuerySerializer(serializers.Serializer):
    before = serializers.CharField(required=False, max_length=200)
    after = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)

    def validate(self, attrs):
        if attrs.get("before") and attrs.get("after"):
            raise serializers.ValidationError("Give `before` or `after`, not both.")
        for key in ("before", "after"):
            if attrs.get(key):
                try:
                    thread.cursor_decode(attrs[key])
                except thread.InvalidCursor:
                    raise serializers.ValidationError({key: "Invalid cursor."}) from None
        return attrs


@extend_schema(parameters=[ConversationFilterSerializer])
class ConversationListView(generics.ListAPIView):
    """The conversations you may see. Filters: status (comma-separated), assignee
    (me, none or a user id), team (none or an id), number, label, priority, q (contact
    name, phone or message text), ordering."""

    serializer_class = ConversationSerializer

    def get_queryset(self):
        filters = validated_data(ConversationFilterSerializer, self.request.query_params)
        return search.conversation_list(
            user=self.request.user,
            statuses=filters.get("status"),
            assignee=filters.get("assignee"),
            team=filters.get("team"),
            number_id=filters.get("number"),
            label_id=filters.get("label"),
            priority=filters.get("priority"),
            q=filters.get("q", ""),
            ordering=filters["ordering"],
        )


class ConversationMessagesView(APIView):
    """The conversation's messages, oldest first, a page at a time: no cursor gives
    the newest; `before` the older page; `after` the newer one."""

    @extend_schema(
        parameters=[MessagePageQuerySerializer],
        responses=inline_serializer(
            "MessagePage",
            {
                "results": MessageSerializer(many=True),
                "before": serializers.CharField(allow_null=True),
                "after": serializers.CharField(allow_null=True),
            },
        ),
    )
    def get(self, request, pk):
        conversation = conversation_selectors.conversation_get(user=request.user, pk=pk)
        query = validated_data(MessagePageQuerySerializer, request.query_params)
        page = thread.message_page(
            conversation=conversation, before=query.get("before"), after=query.get("after"), limit=query["limit"]
        )
        return Response(
            {"results": MessageSerializer(page.messages, many=True).data, "before": page.before, "after": page.after}
        )
