"""REST endpoints for blocking customers on a number (Meta's Block Users API):
block and unblock the customer of a conversation on its number, and read a number's
blocklist. Supervisors and admins only (403 otherwise); WhatsApp's refusals are 400
with the reason in clear words."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.whatsapp.models import WhatsAppNumber

from . import selectors, services
from .block_selectors import conversation_block


class BlockSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class BlockStateSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(read_only=True)
    number_id = serializers.IntegerField(read_only=True)
    blocked = serializers.BooleanField(read_only=True)
    blocked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    blocked_by = serializers.IntegerField(read_only=True, allow_null=True)
    reason = serializers.CharField(read_only=True, allow_blank=True)


class BlockedUserSerializer(serializers.Serializer):
    wa_id = serializers.CharField(read_only=True, allow_blank=True)
    user_id = serializers.CharField(read_only=True, allow_blank=True)
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)
    display_name = serializers.CharField(read_only=True, allow_blank=True)
    blocked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    blocked_by = serializers.IntegerField(read_only=True, allow_null=True)


def _state(conversation) -> dict:
    block = conversation_block(conversation=conversation)
    return BlockStateSerializer(
        {
            "contact_id": conversation.contact_id,
            "number_id": conversation.number_id,
            "blocked": block is not None,
            "blocked_at": block.created_at if block else None,
            "blocked_by": block.blocked_by_id if block else None,
            "reason": block.reason if block else "",
        }
    ).data


def _run(use_case, **kwargs):
    try:
        return use_case(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationError({"detail": exc.messages}) from None


class ConversationBlockView(APIView):
    """The block of the conversation's customer on the conversation's number."""

    @extend_schema(responses=BlockStateSerializer)
    def get(self, request, pk):
        return Response(_state(selectors.conversation_get(user=request.user, pk=pk)))

    @extend_schema(request=BlockSerializer, responses=BlockStateSerializer)
    def post(self, request, pk):
        """Block the customer on the number (at WhatsApp, then here)."""
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        serializer = BlockSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _run(
            services.contact_block,
            conversation=conversation,
            actor=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(_state(conversation))

    @extend_schema(request=None, responses=BlockStateSerializer)
    def delete(self, request, pk):
        """Unblock the customer on the number."""
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        _run(services.contact_unblock, conversation=conversation, actor=request.user)
        return Response(_state(conversation))


class NumberBlockedUsersView(APIView):
    """A number's blocklist as WhatsApp holds it, one page at a time."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after", str, description="the cursor `after` of the previous page"
            ),
            OpenApiParameter("limit", int, description="1 to 200 (default 100)"),
        ],
        responses=inline_serializer(
            "BlockedUsersPage",
            {
                "results": BlockedUserSerializer(many=True),
                "after": serializers.CharField(allow_null=True),
            },
        ),
    )
    def get(self, request, pk):
        number = WhatsAppNumber.objects.filter(
            pk=pk, organization_id=request.user.organization_id
        ).first()
        if number is None:
            raise Http404
        after = request.query_params.get("after", "")
        if len(after) > 200 or not all(c.isalnum() or c in "-_=" for c in after):
            raise ValidationError({"after": "Not a cursor."})
        try:
            limit = max(1, min(int(request.query_params.get("limit", 100)), 200))
        except ValueError:
            raise ValidationError(
                {"limit": "Expected a number from 1 to 200."}
            ) from None
        entries, next_after = _run(
            services.number_blocked_list,
            user=request.user,
            number=number,
            after=after,
            limit=limit,
        )
        results = [
            {
                "wa_id": e.wa_id,
                "user_id": e.user_id,
                "contact_id": e.contact.pk if e.contact else None,
                "display_name": e.contact.display_name if e.contact else "",
                "blocked_at": e.block.created_at if e.block else None,
                "blocked_by": e.block.blocked_by_id if e.block else None,
            }
            for e in entries
        ]
        return Response(
            {
                "results": BlockedUserSerializer(results, many=True).data,
                "after": next_after or None,
            }
        )
