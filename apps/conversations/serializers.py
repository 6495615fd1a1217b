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
            "id", "wa_id", "phone", "profile_name", "name", "display_name", "opted_out", "opted_out_at",
            "opt_out_reason", "marketing_opted_out", "attributes", "created_at",
        ]
        read_only_fields = ["wa_id", "profile_name", "opted_out_at", "marketing_opted_out", "created_at"]


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


class NoteSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = ["id", "conversation_id", "author_id", "author_name", "body", "created_at"]
        read_only_fields = ["id", "conversation_id", "author_id", "author_name", "created_at"]

    def get_author_name(self, obj):
        return obj.author.name if obj.author_id and obj.author else None
