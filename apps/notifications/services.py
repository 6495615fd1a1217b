"""Business-event notifications: the template mapped to an event type, sent once per
idempotency key (a repeated key returns the first outcome)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from apps.conversations.identity import wa_id_normalise
from apps.conversations.services import contact_find_by_phone
from apps.core.errors import SendError
from apps.message_templates.render import template_prefill
from apps.messaging.models import Author
from apps.messaging.services.send import message_send_to_phone

from .models import Notification, NotificationRule


class NotificationError(Exception):
    """Input that cannot become a notification (nothing is recorded): 400."""

    def __init__(self, field_name: str, code: str, message: str):
        super().__init__(message)
        self.field, self.code, self.message = field_name, code, message

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


def notification_send(*, organization, user, event_type: str, phone: str, idempotency_key: str,
                      fields: dict | None) -> tuple[Notification, bool]:
    """Send the template mapped to `event_type` to `phone`, once per idempotency key.
    Returns (notification, created): a repeated key returns the first outcome. An
    opted-out customer gets nothing: the notification is recorded as refused."""
    key = str(idempotency_key or "").strip()
    if not key:
        raise NotificationError("idempotency_key", "required", _("idempotency_key is required."))
    if len(key) > 128:
        raise NotificationError("idempotency_key", "too_long", _("idempotency_key is at most 128 characters."))
    existing = Notification.objects.filter(organization=organization, idempotency_key=key).first()
    if existing is not None:
        return existing, False
    event_type = str(event_type or "").strip()
    if not event_type:
        raise NotificationError("event_type", "required", _("event_type is required."))
    rule = (NotificationRule.objects.select_related("template", "number")
            .filter(organization=organization, event_type=event_type, active=True).first())
    if rule is None:
        raise NotificationError("event_type", "unknown_event_type",
                                _("Unknown event type %(event)s: no active notification rule maps it to a template.")
                                % {"event": event_type})
    wa_id = wa_id_normalise(phone)
    if not 8 <= len(wa_id) <= 15:
        raise NotificationError("phone", "invalid", _("phone must be a number in international format (8 to 15 "
                                                      "digits)."))
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise NotificationError("fields", "invalid", _("fields must be an object."))
    contact = contact_find_by_phone(organization=organization, phone=wa_id)
    parameters, missing = template_prefill(template=rule.template, mapping=rule.parameter_mapping, contact=contact,
                                           fields=fields)
    event_missing = [source.split(".", 1)[1] for _slot, source in missing if source.startswith("event.")]
    if event_missing:
        raise NotificationError(f"fields.{event_missing[0]}", "required",
                                _("Missing event fields: %(names)s.") % {"names": ", ".join(event_missing)})

    with transaction.atomic():
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    organization=organization, rule=rule, event_type=event_type, idempotency_key=key,
                    phone=wa_id, payload=fields, created_by=user,
                )
        except IntegrityError:
            # The same key arrived concurrently; the first one's outcome stands.
            return Notification.objects.get(organization=organization, idempotency_key=key), False
        try:
            if missing:
                slot, source = missing[0]
                raise SendError(f"template.{slot}", "contact_field_missing",
                                _("%(source)s (for %(slot)s) has no value for this customer.")
                                % {"source": source, "slot": slot})
            message = message_send_to_phone(
                organization=organization, number=rule.number, to=wa_id, author=user,
                author_type=Author.INTEGRATION, kind="template",
                payload={"name": rule.template.name, "language": rule.template.language, **parameters},
                idempotency_key=f"notification:{notification.pk}",
            )
        except SendError as error:
            notification.status = Notification.Status.REFUSED
            notification.code = error.code
            notification.reason = error.message
            notification.save(update_fields=["status", "code", "reason"])
            return notification, True
        notification.message = message
        notification.status = Notification.Status.ACCEPTED
        notification.save(update_fields=["message", "status"])
    return notification, True
