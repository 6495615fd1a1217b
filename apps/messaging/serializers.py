"""Serializers shared by the REST API and live events (one shape for both)."""

from rest_framework import serializers

from apps.core.serializers import CachedFieldsMixin

from apps.media.serializers import MediaSerializer

from .models import Message, Reaction


class ReactionSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Reaction
        fields = ["direction", "reactor", "emoji", "reacted_at"]


class MessageSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()
    reactions = ReactionSerializer(many=True, read_only=True)
    media = MediaSerializer(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id", "conversation_id", "wamid", "direction", "author_type", "author_id", "author_name", "type",
            "content", "text", "reply_to_id", "forwarded", "frequently_forwarded", "referral", "status",
            "timestamp", "sent_at", "delivered_at", "read_at", "played_at", "failed_at", "deleted_at", "edited_at",
            "error_code", "error_title", "error_message", "error_details", "reactions", "media",
        ]
        read_only_fields = fields

    def get_author_name(self, obj):
        return obj.author.name if obj.author_id and obj.author else None
