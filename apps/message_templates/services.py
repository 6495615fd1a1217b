"""Use-cases on message templates."""

from __future__ import annotations

import logging

from django.utils import timezone

from .models import MessageTemplate

logger = logging.getLogger(__name__)


# --- Meta's template webhooks ----------------------------------------------------------


def template_apply_webhook(*, organization, waba_id: str, field: str, value: dict) -> MessageTemplate | None:
    """Apply a message_template_status_update, message_template_quality_update or
    template_category_update to the organisation's template, found by Meta's id, else
    by name and language. Returns the template, or None when we do not have it (the
    next sync brings it). Applying the same notice twice changes nothing."""
    meta_id = str(value.get("message_template_id") or "")
    name = str(value.get("message_template_name") or "")
    language = str(value.get("message_template_language") or "")
    templates = MessageTemplate.objects.filter(organization=organization)
    template = templates.filter(meta_id=meta_id).first() if meta_id else None
    if template is None and name and language:
        by_name = templates.filter(name=name, language=language)
        if waba_id:
            by_name = by_name.filter(waba_id=waba_id) if by_name.filter(waba_id=waba_id).exists() else by_name
        template = by_name.first()
    if template is None:
        logger.info("template webhook %s for unknown template %s %s/%s", field, meta_id, name, language)
        return None

    changes: dict = {}
    if meta_id and not template.meta_id:
        changes["meta_id"] = meta_id
    if field == "message_template_status_update":
        event = str(value.get("event") or "").upper()
        if event in MessageTemplate.Status.values:
            changes["status"] = event
        reason = str(value.get("reason") or "")
        if event == MessageTemplate.Status.REJECTED:
            changes["rejection_reason"] = "" if reason.upper() == "NONE" else reason
        elif event == MessageTemplate.Status.APPROVED:
            changes["rejection_reason"] = ""
        elif reason and reason.upper() != "NONE":
            changes["rejection_reason"] = reason
    elif field == "message_template_quality_update":
        score = str(value.get("new_quality_score") or "").upper()
        if score:
            changes["quality"] = score
    elif field == "template_category_update":
        category = str(value.get("new_category") or value.get("correct_category") or "").upper()
        if category in MessageTemplate.Category.values:
            changes["category"] = category
    changes = {k: v for k, v in changes.items() if getattr(template, k) != v}
    if changes:
        for key, val in changes.items():
            setattr(template, key, val)
        template.synced_at = timezone.now()
        template.save(update_fields=[*changes, "synced_at", "updated_at"])
    return template
