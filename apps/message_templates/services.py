"""Use-cases on message templates."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .definition import TemplateDefinitionError, template_definition_check
from .edits import components_edited
from .models import MessageTemplate
from .render import template_render, template_unsendable_reason

logger = logging.getLogger(__name__)

# Templates per page asked of Meta when syncing (Meta allows up to 100 or so).
SYNC_PAGE_SIZE = 100
SYNC_FIELDS = "id,name,language,category,status,quality_score,components,rejected_reason,parameter_format"


# --- Meta's template webhooks ----------------------------------------------------------


# Status events that say a template can be sent again: Meta's template status is then
# APPROVED (REINSTATED: no longer paused or flagged; UNARCHIVED: restored from the archive,
# to the status it had before, which is read from Meta at once: `_refresh_after`).
SENDABLE_AGAIN = {"REINSTATED": MessageTemplate.Status.APPROVED, "UNARCHIVED": MessageTemplate.Status.APPROVED}


def template_apply_webhook(*, organization, waba_id: str, field: str, value: dict) -> MessageTemplate | None:
    """Apply a message_template_status_update, message_template_quality_update,
    template_category_update or message_template_components_update to the
    organisation's template, found by Meta's id, else by name and language. Returns the
    template, or None when we do not have it (the next sync brings it). Applying the
    same notice twice changes nothing."""
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
        status = SENDABLE_AGAIN.get(event, event)
        if status in MessageTemplate.Status.values:
            changes["status"] = status
        reason = str(value.get("reason") or "")
        if status == MessageTemplate.Status.REJECTED:
            changes["rejection_reason"] = "" if reason.upper() == "NONE" else reason
        elif status == MessageTemplate.Status.APPROVED:
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
    elif field == "message_template_components_update":
        changes["components"] = components_edited(template.components or [], value)
    changes = {k: v for k, v in changes.items() if getattr(template, k) != v}
    if changes:
        for key, val in changes.items():
            setattr(template, key, val)
        template.synced_at = timezone.now()
        template.save(update_fields=[*changes, "synced_at", "updated_at"])
    if field == "message_template_status_update" and str(value.get("event") or "").upper() == "UNARCHIVED":
        _refresh_after(template)
    return template


def _refresh_after(template: MessageTemplate) -> None:
    """Read the status Meta restored (the notice does not say it) once this commits
    (the task named: services never import the tasks module that imports them)."""
    from apps.core.tasks import enqueue

    enqueue("message_templates.refresh_status", template.pk)


# --- sync from Meta --------------------------------------------------------------------


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: SyncResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.errors += other.errors

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "deleted": self.deleted, "errors": self.errors}


def _from_graph(item: dict) -> dict:
    """Our fields from one template of Meta's list."""
    quality = item.get("quality_score") or {}
    reason = str(item.get("rejected_reason") or "")
    status = str(item.get("status") or "").upper()
    category = str(item.get("category") or "").upper()
    return {
        "meta_id": str(item.get("id") or ""),
        "category": category if category in MessageTemplate.Category.values else MessageTemplate.Category.UTILITY,
        "status": status if status in MessageTemplate.Status.values else MessageTemplate.Status.PENDING,
        "quality": str(quality.get("score") or "") if isinstance(quality, dict) else str(quality),
        "rejection_reason": "" if reason.upper() == "NONE" else reason,
        "components": item.get("components") if isinstance(item.get("components"), list) else [],
        "parameter_format": "NAMED" if str(item.get("parameter_format") or "").upper() == "NAMED" else "POSITIONAL",
    }


def template_sync_waba(*, organization, number) -> SyncResult:
    """Fetch every template of `number`'s WhatsApp Business Account (all pages), create
    or update ours, and mark those Meta no longer lists as deleted. A failed listing
    changes nothing (a half list must not delete anything)."""
    from apps.providers.meta.client import GraphAPIError, client_for

    result = SyncResult()
    waba_id = number.waba_id
    try:
        items = list(client_for(number).list_templates(waba_id, fields=SYNC_FIELDS, limit=SYNC_PAGE_SIZE))
    except GraphAPIError as error:
        logger.warning("template sync of WABA %s failed: %s", waba_id, error)
        result.errors.append(_("WABA %(waba)s: %(error)s") % {"waba": waba_id, "error": error})
        return result
    now = timezone.now()
    seen: set[int] = set()
    with transaction.atomic():
        existing = {(t.name, t.language): t for t in
                    MessageTemplate.objects.select_for_update().filter(organization=organization, waba_id=waba_id)}
        for item in items:
            name, language = str(item.get("name") or ""), str(item.get("language") or "")
            if not name or not language:
                continue
            values = _from_graph(item)
            template = existing.get((name, language))
            if template is None:
                template = MessageTemplate.objects.create(
                    organization=organization, waba_id=waba_id, name=name, language=language, synced_at=now, **values
                )
                existing[(name, language)] = template
                result.created += 1
            else:
                changes = {k: v for k, v in values.items() if getattr(template, k) != v}
                if template.deleted_at is not None:
                    changes["deleted_at"] = None
                for key, value in changes.items():
                    setattr(template, key, value)
                template.synced_at = now
                template.save(update_fields=[*changes, "synced_at", "updated_at"])
                if changes:
                    result.updated += 1
                else:
                    result.unchanged += 1
            seen.add(template.pk)
        # Gone from Meta's list: deleted there. Drafts never submitted are ours only.
        gone = [t for t in existing.values() if t.pk not in seen and t.deleted_at is None
                and t.status != MessageTemplate.Status.DRAFT]
        for template in gone:
            template.deleted_at = now
            template.status = MessageTemplate.Status.DELETED
            template.synced_at = now
            template.save(update_fields=["deleted_at", "status", "synced_at", "updated_at"])
        result.deleted = len(gone)
    return result


def template_sync(*, organization) -> SyncResult:
    """Sync every WhatsApp Business Account of the organisation (once per WABA, through
    one of its active numbers)."""
    from apps.whatsapp.models import WhatsAppNumber

    result = SyncResult()
    done: set[str] = set()
    numbers = WhatsAppNumber.objects.filter(organization=organization, is_active=True).exclude(waba_id="")
    for number in numbers.order_by("pk"):
        if number.waba_id in done:
            continue
        done.add(number.waba_id)
        result.add(template_sync_waba(organization=organization, number=number))
    return result


def template_sync_all() -> SyncResult:
    """Every organisation's templates (the periodic task)."""
    from apps.accounts.models import Organization

    result = SyncResult()
    for organization in Organization.objects.order_by("pk"):
        result.add(template_sync(organization=organization))
    return result


# --- create and submit -------------------------------------------------------------------


def template_create(*, organization, number, name: str, language: str, category: str,
                    parameter_format: str = "POSITIONAL", components: list,
                    parameter_mapping: dict | None = None) -> MessageTemplate:
    """Check the definition against Meta's rules, submit it to `number`'s WABA and store
    it with the status Meta answers (then followed by webhook and sync). Raises
    TemplateDefinitionError with every problem, or with Meta's refusal."""
    from apps.providers.meta.client import GraphAPIError, client_for

    if number.organization_id != organization.pk or not number.waba_id:
        raise TemplateDefinitionError([("number", _("A number of your organisation with a WhatsApp Business "
                                                    "Account id."))])
    payload = template_definition_check(name=name, language=language, category=category,
                                        parameter_format=parameter_format, components=components)
    if MessageTemplate.objects.filter(organization=organization, waba_id=number.waba_id, name=name,
                                      language=language).exists():
        raise TemplateDefinitionError([("name", _("A template %(name)s in %(language)s exists already.")
                                        % {"name": name, "language": language})])
    try:
        answer = client_for(number).create_template(number.waba_id, payload)
    except GraphAPIError as error:
        raise TemplateDefinitionError([("meta", _("Meta refused the template: %(error)s %(details)s")
                                        % {"error": error, "details": error.details})]) from error
    status = str(answer.get("status") or "PENDING").upper()
    answered_category = str(answer.get("category") or category).upper()
    try:
        with transaction.atomic():
            return MessageTemplate.objects.create(
                organization=organization, waba_id=number.waba_id, name=name, language=language,
                category=answered_category if answered_category in MessageTemplate.Category.values else category,
                status=status if status in MessageTemplate.Status.values else MessageTemplate.Status.PENDING,
                parameter_format=payload.get("parameter_format", "POSITIONAL"), components=payload["components"],
                meta_id=str(answer.get("id") or ""), parameter_mapping=parameter_mapping or {},
                synced_at=timezone.now(),
            )
    except IntegrityError:  # a sync brought it in meanwhile
        return MessageTemplate.objects.get(organization=organization, waba_id=number.waba_id, name=name,
                                           language=language)


def template_preview(*, template, parameters) -> dict:
    """The preview the composer and the API show, with whether it can be sent now."""
    rendered = template_render(template=template, parameters=parameters)
    return {**rendered.as_content(), "components": rendered.components,
            "sendable": not template_unsendable_reason(template), "reason": template_unsendable_reason(template)}
