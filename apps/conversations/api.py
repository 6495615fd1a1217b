"""REST endpoints for conversations, their messages and notes, contacts, labels and
canned responses. Thin: validate the input with a serializer of whitelisted fields,
read through selectors, write through services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors as account_selectors
from apps.core import params
from apps.core.api import validated_data

from . import selectors, services
from .models import CannedResponse, Conversation
from .serializers import ContactSerializer, ConversationSerializer, LabelSerializer, NoteSerializer


def _run(use_case, **kwargs):
    """Call a service; its validation errors become a 400 with the reason."""
    try:
        return use_case(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationError({"detail": exc.messages}) from None


# --- Input shapes: only these fields are read; anything else is ignored ----------------


class _IdOrKeyword(serializers.CharField):
    """A positive integer id, or one of `keywords`."""

    def __init__(self, *, keywords, **kwargs):
        self.keywords = keywords
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip().lower()
        if len(value) > 20:
            raise serializers.ValidationError("Too long.")
        if value in self.keywords:
            return value
        try:
            return params.positive_id(value, field=self.field_name, required=True)
        except params.BadParameter:
            raise serializers.ValidationError(f"Expected an id or one of: {', '.join(self.keywords)}.") from None


class ConversationFilterSerializer(serializers.Serializer):
    status = serializers.CharField(required=False, max_length=100, help_text="Comma-separated statuses.")
    assignee = _IdOrKeyword(keywords=("me", "none"), required=False)
    team = _IdOrKeyword(keywords=("none",), required=False)
    number = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    label = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    priority = serializers.ChoiceField(required=False, choices=Conversation.Priority.choices)
    q = serializers.CharField(required=False, allow_blank=True, max_length=selectors.SEARCH_MAX_LENGTH)
    ordering = serializers.ChoiceField(
        required=False, choices=sorted(selectors.CONVERSATION_ORDERINGS), default=selectors.DEFAULT_CONVERSATION_ORDERING
    )

    def validate_status(self, value):
        statuses = [item.strip() for item in value.split(",") if item.strip()]
        unknown = [item for item in statuses if item not in Conversation.Status.values]
        if unknown:
            raise serializers.ValidationError(f"Unknown status; expected {', '.join(Conversation.Status.values)}.")
        return statuses


class AssignSerializer(serializers.Serializer):
    assignee_id = serializers.IntegerField(allow_null=True, min_value=1, max_value=2**63 - 1)
    team_id = serializers.IntegerField(allow_null=True, required=False, min_value=1, max_value=2**63 - 1)


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)


class LabelsSerializer(serializers.Serializer):
    label_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), max_length=100, allow_empty=True
    )


class PrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Conversation.Priority.choices)


class NoteCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000)


class ContactUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    attributes = serializers.DictField(required=False)
    opted_out = serializers.BooleanField(required=False)
    opt_out_reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class SearchSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=selectors.SEARCH_MAX_LENGTH)


class CannedResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CannedResponse
        fields = ["id", "shortcut", "body"]
        read_only_fields = fields


# --- Conversations -----------------------------------------------------------------


class ConversationDetailView(APIView):
    @extend_schema(responses=ConversationSerializer)
    def get(self, request, pk):
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        return Response(ConversationSerializer(conversation).data)


class _ConversationActionView(APIView):
    input_serializer: type[serializers.Serializer]

    def act(self, request, conversation, data):  # pragma: no cover - each action defines it
        raise NotImplementedError

    def post(self, request, pk):
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        data = validated_data(self.input_serializer, request.data)
        conversation = self.act(request, conversation, data)
        return Response(ConversationSerializer(conversation).data)


class ConversationAssignView(_ConversationActionView):
    """Assign to a user of your organisation (assignee_id null: unassign) and,
    when team_id is given, route to a team (null: no team)."""

    input_serializer = AssignSerializer

    @extend_schema(request=AssignSerializer, responses=ConversationSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, request, conversation, data):
        assignee = team = None
        if data["assignee_id"] is not None:
            assignee = _org_member(request.user, data["assignee_id"], "assignee_id")
        set_team = "team_id" in data
        if set_team and data["team_id"] is not None:
            try:
                team = account_selectors.team_get(user=request.user, pk=data["team_id"])
            except Http404:
                raise ValidationError({"team_id": "Unknown team."}) from None
        return _run(
            services.conversation_assign,
            conversation=conversation,
            actor=request.user,
            assignee=assignee,
            team=team,
            set_team=set_team,
        )


def _org_member(user, pk, field):
    try:
        return account_selectors.user_get(user=user, pk=pk)
    except Http404:
        raise ValidationError({field: "Unknown user."}) from None


class ConversationStatusView(_ConversationActionView):
    """open, pending, resolved, or snoozed with snoozed_until (in the future)."""

    input_serializer = StatusSerializer

    @extend_schema(request=StatusSerializer, responses=ConversationSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, request, conversation, data):
        return _run(
            services.conversation_set_status,
            conversation=conversation,
            actor=request.user,
            status=data["status"],
            snoozed_until=data.get("snoozed_until"),
        )


class ConversationLabelsView(_ConversationActionView):
    """Replace the labels with label_ids (labels of your organisation)."""

    input_serializer = LabelsSerializer

    @extend_schema(request=LabelsSerializer, responses=ConversationSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, request, conversation, data):
        return _run(
            services.conversation_set_labels,
            conversation=conversation,
            actor=request.user,
            label_ids=data["label_ids"],
        )


class ConversationPriorityView(_ConversationActionView):
    input_serializer = PrioritySerializer

    @extend_schema(request=PrioritySerializer, responses=ConversationSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, request, conversation, data):
        return _run(
            services.conversation_set_priority,
            conversation=conversation,
            actor=request.user,
            priority=data["priority"],
        )


class ConversationNotesView(APIView):
    @extend_schema(responses=NoteSerializer(many=True))
    def get(self, request, pk):
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        return Response(NoteSerializer(selectors.note_list(conversation=conversation), many=True).data)

    @extend_schema(request=NoteCreateSerializer, responses={201: NoteSerializer})
    def post(self, request, pk):
        conversation = selectors.conversation_get(user=request.user, pk=pk)
        data = validated_data(NoteCreateSerializer, request.data)
        note = _run(services.note_create, conversation=conversation, author=request.user, body=data["body"])
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


# --- Contacts ------------------------------------------------------------------------


@extend_schema(parameters=[SearchSerializer])
class ContactListView(generics.ListAPIView):
    """The contacts you may see; q searches name, WhatsApp name and phone."""

    serializer_class = ContactSerializer

    def get_queryset(self):
        query = validated_data(SearchSerializer, self.request.query_params)
        return selectors.contact_list(user=self.request.user, q=query.get("q", ""))


class ContactDetailView(APIView):
    @extend_schema(responses=ContactSerializer)
    def get(self, request, pk):
        return Response(ContactSerializer(selectors.contact_get(user=request.user, pk=pk)).data)

    @extend_schema(request=ContactUpdateSerializer, responses=ContactSerializer)
    def patch(self, request, pk):
        contact = selectors.contact_get(user=request.user, pk=pk)
        data = validated_data(ContactUpdateSerializer, request.data)
        contact = _run(
            services.contact_update,
            contact=contact,
            actor=request.user,
            name=data.get("name"),
            attributes=data.get("attributes"),
        )
        if "opted_out" in data:
            contact = _run(
                services.contact_set_opt_out,
                contact=contact,
                actor=request.user,
                opted_out=data["opted_out"],
                reason=data.get("opt_out_reason", ""),
            )
        contact.refresh_from_db()
        return Response(ContactSerializer(contact).data)


# --- Labels and canned responses ---------------------------------------------------------


class LabelListView(generics.ListAPIView):
    serializer_class = LabelSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.label_list(user=self.request.user)


@extend_schema(parameters=[SearchSerializer])
class CannedResponseListView(generics.ListAPIView):
    serializer_class = CannedResponseSerializer
    pagination_class = None

    def get_queryset(self):
        query = validated_data(SearchSerializer, self.request.query_params)
        return selectors.canned_response_list(user=self.request.user, q=query.get("q", ""))
