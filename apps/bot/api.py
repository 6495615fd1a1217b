"""The bot over REST. POST /api/v1/conversations/<id>/bot/ {"bot_active"} turns it on
or off in a conversation (on is refused with the reason, 400, where it could not
answer). Agent assist: POST /api/v1/conversations/<id>/assist/suggest/ → {"text"} and
.../assist/summary/ → {"summary"}; 503 when the AI is not configured, 502 when the
model failed."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema, inline_serializer
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import selectors
from apps.conversations.api import _ConversationActionView, _run
from apps.conversations.serializers import ConversationSerializer

from . import assist, client, services

_detail = inline_serializer("AssistError", {"detail": serializers.CharField()})


class _AssistView(APIView):
    use_case = None
    key = ""

    def post(self, request, pk):
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        try:
            value = type(self).use_case(conversation=conversation, user=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except assist.AssistUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        except client.AIError as exc:
            return Response({"detail": _("The AI service failed: %(detail)s") % {"detail": exc.detail}}, status=status.HTTP_502_BAD_GATEWAY)
        return Response({self.key: value})


class AssistSuggestView(_AssistView):
    use_case = assist.assist_suggest
    key = "text"

    @extend_schema(request=None, responses={200: inline_serializer("AssistSuggestion", {"text": serializers.CharField()}),
                                            502: _detail, 503: _detail})
    def post(self, request, pk):
        return super().post(request, pk)


class AssistSummaryView(_AssistView):
    use_case = assist.assist_summary
    key = "summary"

    @extend_schema(request=None, responses={200: inline_serializer("AssistSummary", {"summary": serializers.CharField()}),
                                            502: _detail, 503: _detail})
    def post(self, request, pk):
        return super().post(request, pk)


class BotSerializer(serializers.Serializer):
    bot_active = serializers.BooleanField()


class ConversationBotView(_ConversationActionView):
    input_serializer = BotSerializer

    @extend_schema(request=BotSerializer, responses=ConversationSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, request, conversation, data):
        return _run(
            services.conversation_bot_set, conversation=conversation, actor=request.user, active=data["bot_active"]
        )
