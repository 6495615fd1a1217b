"""The integration API: business systems send messages to a phone number."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import access
from apps.core.api import IdField

from . import selectors
from .serializers import MessageSerializer
from .services.send import message_send_to_phone
from .validation import KINDS, SendError


class MessageCreateSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="phone_number_id or id of one of your organisation's numbers")
    to = serializers.CharField(help_text="The customer's phone in international format")
    type = serializers.ChoiceField(choices=KINDS)
    reply_to = IdField(required=False, help_text="id of a message of the conversation")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=128)
    text = serializers.DictField(required=False)
    image = serializers.DictField(required=False)
    video = serializers.DictField(required=False)
    audio = serializers.DictField(required=False)
    document = serializers.DictField(required=False)
    sticker = serializers.DictField(required=False)
    location = serializers.DictField(required=False)
    contacts = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="1 to 257 cards: name {formatted_name and one of first_name, last_name, ...}, phones, emails, "
                  "urls, addresses, org, birthday")
    interactive = serializers.DictField(
        required=False,
        help_text="type: button, list, cta_url, location_request_message, flow (flow_id or flow_name, flow_cta, "
                  "mode, flow_action, screen, data), product (catalog_id, product_retailer_id) or product_list "
                  "(header, body, catalog_id, sections of product_items: at most 10 sections, 30 products), "
                  "call_permission_request (body only) or voice_call (body; optional display_text of at most 20 "
                  "characters, ttl_minutes from 1 to 43200, payload of at most 512 characters returned with the "
                  "call)")
    template = serializers.DictField(required=False)
    reaction = serializers.DictField(required=False)


SEND_ERROR = inline_serializer("SendError", {"field": serializers.CharField(), "code": serializers.CharField(),
                                             "message": serializers.CharField()})
ACCEPTED = inline_serializer("MessageAccepted", {"id": serializers.IntegerField(), "status": serializers.CharField(),
                                                 "status_url": serializers.CharField()})


def _require_integration(user):
    if not access.can_use_integration_api(user):
        raise PermissionDenied("This token may not use the integration API.")


class MessageCreateView(APIView):
    @extend_schema(
        request=MessageCreateSerializer,
        responses={202: ACCEPTED, 400: SEND_ERROR, 403: OpenApiResponse(description="Not an integration token")},
        summary="Send a message to a phone number",
        description="Queues the message and answers at once; contact and conversation are created when new. "
                    "Follow status_url for its delivery status.",
    )
    def post(self, request):
        _require_integration(request.user)
        data = MessageCreateSerializer(data=request.data)
        if not data.is_valid():
            field, problems = next(iter(data.errors.items()))
            return Response({"field": field, "code": "invalid", "message": str(problems[0])}, status=400)
        body = data.validated_data
        kind = body["type"]
        number = selectors.number_for_integration(user=request.user, number=body["number"])
        if number is None:
            return Response({"field": "number", "code": "not_found", "message": "No such number."}, status=400)
        payload = request.data.get(kind)
        if kind == "contacts":
            payload = {"contacts": payload}
        if payload is None:
            return Response({"field": kind, "code": "required", "message": f"{kind} is required."}, status=400)
        try:
            message = message_send_to_phone(
                organization=request.user.organization, number=number, to=body["to"], author=request.user,
                kind=kind, payload=payload, reply_to_id=body.get("reply_to"),
                idempotency_key=body.get("idempotency_key", ""),
            )
        except SendError as error:
            return Response(error.as_dict(), status=400)
        url = request.build_absolute_uri(reverse("api-message-detail", args=[message.pk]))
        return Response({"id": message.pk, "status": message.status, "status_url": url}, status=status.HTTP_202_ACCEPTED)


class MessageDetailView(APIView):
    @extend_schema(responses={200: MessageSerializer}, summary="A message and its delivery status")
    def get(self, request, pk: int):
        message = selectors.message_get(user=request.user, message_id=pk)
        if message is None:
            raise NotFound()
        return Response(MessageSerializer(message).data)
