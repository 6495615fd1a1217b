from rest_framework import serializers

from .models import MessageTemplate
from .render import slots, template_unsendable_reason


class MessageTemplateSerializer(serializers.ModelSerializer):
    sendable = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    slots = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "language", "category", "status", "quality", "parameter_format", "components",
                  "meta_id", "waba_id", "rejection_reason", "parameter_mapping", "deleted_at", "synced_at",
                  "sendable", "reason", "slots"]

    def get_sendable(self, obj) -> bool:
        return not template_unsendable_reason(obj)

    def get_reason(self, obj) -> str:
        return template_unsendable_reason(obj)

    def get_slots(self, obj) -> list:
        return slots(obj)
