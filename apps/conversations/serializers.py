"""Serializers shared by the REST API and live events (one shape for both)."""

from rest_framework import serializers

from apps.core.serializers import CachedFieldsMixin

from .models import Contact, Conversation, Label, Note


class LabelSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "color"]


class ContactSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id", "wa_id", "user_id", "username", "phone", "profile_name", "name", "display_name", "opted_out",
            "opted_out_at", "opt_out_reason", "marketing_opted_out", "attributes", "created_at",
        ]
        read_only_fields = ["wa_id", "user_id", "username", "profile_name", "opted_out_at", "marketing_opted_out",
                            "created_at"]

    def to_representation(self, instance):
        return contact_data(instance)


class ConversationSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    contact = ContactSerializer(read_only=True)
    labels = LabelSerializer(many=True, read_only=True)
    assignee_name = serializers.SerializerMethodField()
    window_expires_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "contact", "number_id", "status", "assignee_id", "assignee_name", "team_id", "labels", "priority",
            "unread_count", "last_message_at", "last_message_preview", "last_customer_message_at",
            "window_expires_at", "bot_active", "snoozed_until", "resolved_at", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_assignee_name(self, obj):
        return obj.assignee.name if obj.assignee_id and obj.assignee else None

    def to_representation(self, instance):
        # The fields above describe the shape (the OpenAPI schema); one builder fills
        # it, for the REST API and the live events alike.
        return conversation_event_data(instance)


class NoteSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = ["id", "conversation_id", "author_id", "author_name", "body", "created_at"]
        read_only_fields = ["id", "conversation_id", "author_id", "author_name", "created_at"]

    def get_author_name(self, obj):
        return obj.author.name if obj.author_id and obj.author else None


_DATETIME = serializers.DateTimeField()
_CONTACT_TIME_FIELDS = ("opted_out_at", "created_at")
_CONVERSATION_TIME_FIELDS = (
    "last_message_at", "last_customer_message_at", "window_expires_at", "snoozed_until", "resolved_at", "created_at",
    "updated_at",
)


def _time(value):
    return None if value is None else _DATETIME.to_representation(value)


def _event_labels(conversation: Conversation) -> list[dict]:
    labels = getattr(conversation, "event_labels", None)  # set by conversations_record_inbound_many
    if labels is not None:
        return labels
    return [{"id": label.id, "name": label.name, "color": label.color} for label in conversation.labels.all()]


def contact_data(contact: Contact) -> dict:
    """A contact as the REST API and the live events show it (`ContactSerializer`'s
    fields; the serializer's output is this)."""
    data = {
        "id": contact.id, "wa_id": contact.wa_id, "user_id": contact.user_id, "username": contact.username,
        "phone": contact.phone, "profile_name": contact.profile_name,
        "name": contact.name, "display_name": contact.display_name, "opted_out": contact.opted_out,
        "opt_out_reason": contact.opt_out_reason, "marketing_opted_out": contact.marketing_opted_out,
        "attributes": contact.attributes,
    }
    for name in _CONTACT_TIME_FIELDS:
        data[name] = _time(getattr(contact, name))
    return {name: data[name] for name in ContactSerializer.Meta.fields}


def conversation_event_data(conversation: Conversation) -> dict:
    """A conversation as the REST API and the live events show it
    (`ConversationSerializer`'s fields; the serializer's output is this), built
    straight from the row (contact and assignee selected and labels prefetched, or the
    rows conversations_record_inbound_many returned) without DRF's per-field
    machinery: the inbound worker builds one per conversation of every batch."""
    data = {
        "id": conversation.id, "number_id": conversation.number_id, "status": conversation.status,
        "assignee_id": conversation.assignee_id,
        "assignee_name": conversation.assignee.name if conversation.assignee_id and conversation.assignee else None,
        "team_id": conversation.team_id, "priority": conversation.priority, "unread_count": conversation.unread_count,
        "last_message_preview": conversation.last_message_preview, "bot_active": conversation.bot_active,
        "contact": contact_data(conversation.contact),
        "labels": _event_labels(conversation),
    }
    for name in _CONVERSATION_TIME_FIELDS:
        data[name] = _time(getattr(conversation, name))
    return {name: data[name] for name in ConversationSerializer.Meta.fields}
