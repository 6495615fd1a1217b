"""REST: business-event notifications for integrations."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import access

from . import selectors
from .serializers import NotificationSerializer
from .services import NotificationError, notification_send

ERROR = inline_serializer("NotificationError", {"field": serializers.CharField(), "code": serializers.CharField(),
                                                "message": serializers.CharField()})


class NotificationCreateSerializer(serializers.Serializer):
    event_type = serializers.CharField(max_length=80)
    phone = serializers.CharField(max_length=32)
    idempotency_key = serializers.CharField(max_length=128)
    fields = serializers.DictField(required=False, default=dict)


class NotificationCreateView(APIView):
    @extend_schema(
        request=NotificationCreateSerializer,
        responses={202: NotificationSerializer, 200: NotificationSerializer, 400: ERROR,
                   409: NotificationSerializer, 422: NotificationSerializer},
        summary="Notify a customer of a business event",
        description="Sends the template mapped to event_type, once per idempotency_key: the first request answers "
                    "202 (or 409 opted out / 422 refused), a repeat 200 with the first outcome.",
    )
    def post(self, request):
        if not access.can_use_integration_api(request.user):
            raise PermissionDenied(_("This token may not use the integration API."))
        data = NotificationCreateSerializer(data=request.data)
        if not data.is_valid():
            field, problems = next(iter(data.errors.items()))
            return Response({"field": field, "code": "invalid", "message": str(problems[0])}, status=400)
        body = data.validated_data
        try:
            notification, created = notification_send(
                organization=request.user.organization, user=request.user, event_type=body["event_type"],
                phone=body["phone"], idempotency_key=body["idempotency_key"], fields=body["fields"],
            )
        except NotificationError as error:
            return Response(error.as_dict(), status=400)
        answer = {**NotificationSerializer(notification).data, "duplicate": not created}
        if not created:
            return Response(answer, status=200)
        if notification.status == notification.Status.REFUSED:
            opted_out = notification.code in ("opted_out", "marketing_opted_out")
            return Response(answer, status=409 if opted_out else 422)
        return Response(answer, status=status.HTTP_202_ACCEPTED)


class NotificationDetailView(APIView):
    @extend_schema(responses={200: NotificationSerializer}, summary="A notification and its outcome")
    def get(self, request, pk: int):
        notification = selectors.notification_get_for_user(user=request.user, notification_id=pk)
        if notification is None:
            raise NotFound()
        return Response(NotificationSerializer(notification).data)
