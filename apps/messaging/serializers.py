"""Serializers shared by the REST API and live events (one shape for both)."""

from django.core.exceptions import ObjectDoesNotExist
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
            "error_code", "error_title", "error_message", "error_details", "reactions", "media", "imported",
            "pricing_model", "pricing_type", "pricing_category", "billable",
        ]
        read_only_fields = fields

    def get_author_name(self, obj):
        return obj.author.name if obj.author_id and obj.author else None

    def to_representation(self, instance):
        # The fields above describe the shape (the OpenAPI schema); one builder fills
        # it, for the REST API and the live events alike.
        return message_event_data(instance)


_DATETIME = serializers.DateTimeField()
_PLAIN_FIELDS = [
    "id", "conversation_id", "wamid", "direction", "author_type", "author_id", "type", "content", "text",
    "reply_to_id", "forwarded", "frequently_forwarded", "referral", "status", "imported", "pricing_model",
    "pricing_type", "pricing_category", "billable",
]
_TIME_FIELDS = [
    "timestamp", "sent_at", "delivered_at", "read_at", "played_at", "failed_at", "deleted_at", "edited_at",
]
_ERROR_FIELDS = ["error_code", "error_title", "error_message", "error_details"]


_READ = object()


def _media_of(message: Message):
    try:
        return message.media
    except ObjectDoesNotExist:
        return None


def message_event_data(message: Message, *, reactions: list | None = None, media=_READ) -> dict:
    """A message as the REST API and the live events show it (`MessageSerializer`'s
    fields; the serializer's output is this), built straight from the row without
    DRF's per-object field copies. A caller that knows the message's reactions or
    media passes them (`media=None`: it has none) and nothing is read again; the
    author is read unless it was loaded with the message."""
    data = {name: getattr(message, name) for name in _PLAIN_FIELDS}
    data["author_name"] = message.author.name if message.author_id and message.author else None
    for name in _TIME_FIELDS:
        value = getattr(message, name)
        data[name] = None if value is None else _DATETIME.to_representation(value)
    for name in _ERROR_FIELDS:
        data[name] = getattr(message, name)
    if reactions is None:
        reactions = message.reactions.all()
    data["reactions"] = ReactionSerializer(reactions, many=True).data if reactions else []
    if media is _READ:
        media = _media_of(message)
    data["media"] = MediaSerializer(media).data if media is not None else None
    return {name: data[name] for name in MessageSerializer.Meta.fields}
