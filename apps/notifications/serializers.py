from rest_framework import serializers

from .models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    message_id = serializers.IntegerField(source="message.pk", read_only=True, default=None)
    message_status = serializers.CharField(source="message.status", read_only=True, default=None)
    conversation_id = serializers.IntegerField(source="message.conversation_id", read_only=True, default=None)

    class Meta:
        model = Notification
        fields = ["id", "event_type", "idempotency_key", "phone", "status", "code", "reason", "message_id",
                  "message_status", "conversation_id", "created_at"]

    def get_status(self, obj) -> str:
        # Accepted until the message reaches WhatsApp; refused stays refused.
        if obj.status == Notification.Status.ACCEPTED and obj.message is not None and obj.message.wamid:
            return Notification.Status.SENT
        return obj.status
