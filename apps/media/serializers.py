"""The shape of a media file in the REST API and in live events.

Links point at /media/m/<id>/, which checks the viewer's access and redirects to a
short-lived signed link; a raw storage URL never leaves the server."""

from django.urls import reverse
from rest_framework import serializers

from apps.core.serializers import CachedFieldsMixin

from .models import Media


class MediaSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Media
        fields = [
            "id", "message_id", "kind", "mime_type", "size", "filename", "animated", "state", "state_label",
            "error", "stored_at", "url", "thumbnail_url",
        ]
        read_only_fields = fields

    def get_url(self, obj):
        return reverse("media:open", args=[obj.pk]) if obj.file else None

    def get_thumbnail_url(self, obj):
        return reverse("media:thumbnail", args=[obj.pk]) if obj.thumbnail else None
