"""A template's life at Meta after its creation: editing its components and deleting
it, each done at Meta first and then here. The status that follows an edit (Meta
reviews the template again) comes by webhook and sync, as after a creation."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.providers.meta import template_lifecycle as meta
from apps.providers.meta.client import GraphAPIError, client_for

from .definition import TemplateDefinitionError, template_definition_check
from .models import MessageTemplate

# Meta edits a template only in these states (a pending, disabled or appealed one waits).
EDITABLE = (
    MessageTemplate.Status.APPROVED,
    MessageTemplate.Status.REJECTED,
    MessageTemplate.Status.PAUSED,
)


def _number(template: MessageTemplate):
    from apps.whatsapp.models import WhatsAppNumber

    number = (
        WhatsAppNumber.objects.filter(
            organization_id=template.organization_id,
            waba_id=template.waba_id,
            is_active=True,
        )
        .exclude(access_token="")
        .first()
    )
    if number is None or not template.waba_id:
        raise TemplateDefinitionError(
            [
                (
                    "number",
                    _(
                        "No active number of this template's WhatsApp Business "
                        "Account to reach Meta with."
                    ),
                )
            ]
        )
    return number


def _refused(error: GraphAPIError) -> TemplateDefinitionError:
    return TemplateDefinitionError(
        [
            (
                "meta",
                _("Meta refused: %(error)s %(details)s")
                % {"error": error, "details": error.details},
            )
        ]
    )


def template_edit(*, template: MessageTemplate, components: list) -> MessageTemplate:
    """Check the new components against Meta's rules, submit them, store them. Raises
    TemplateDefinitionError with every problem, or Meta's refusal."""
    if template.status not in EDITABLE or not template.meta_id:
        raise TemplateDefinitionError(
            [("status", _("Meta edits approved, rejected or paused templates only."))]
        )
    payload = template_definition_check(
        name=template.name,
        language=template.language,
        category=template.category,
        parameter_format=template.parameter_format,
        components=components,
    )
    try:
        meta.template_edit(
            client_for(_number(template)),
            template.meta_id,
            components=payload["components"],
        )
    except GraphAPIError as error:
        raise _refused(error) from error
    MessageTemplate.objects.filter(pk=template.pk).update(
        components=payload["components"],
        status=MessageTemplate.Status.PENDING,
        synced_at=timezone.now(),
    )
    template.refresh_from_db()
    return template


def template_delete(*, template: MessageTemplate) -> MessageTemplate:
    """Delete the template's language at Meta, then mark it deleted here (kept for the
    messages that used it)."""
    try:
        meta.template_delete(
            client_for(_number(template)),
            template.waba_id,
            name=template.name,
            template_id=template.meta_id,
        )
    except GraphAPIError as error:
        raise _refused(error) from error
    MessageTemplate.objects.filter(pk=template.pk).update(
        status=MessageTemplate.Status.DELETED, deleted_at=timezone.now()
    )
    template.refresh_from_db()
    return template


# Meta archives approved and rejected templates only (its reference).
ARCHIVABLE = (MessageTemplate.Status.APPROVED, MessageTemplate.Status.REJECTED)


def templates_archive(*, templates, archive: bool = True) -> tuple[list[MessageTemplate], dict]:
    """Archive (or, with archive=False, unarchive) `templates` at Meta, each WABA's in
    calls of up to 100, then here: archived ones become ARCHIVED (not sendable; Meta
    deletes them 28 days later unless unarchived), unarchived ones take the status Meta
    restored (their status before, else APPROVED). Returns the templates done and
    {template: why not} for the others (Meta's reason, or ours)."""
    done: list[MessageTemplate] = []
    failed: dict = {}
    groups: dict = {}
    for template in templates:
        if not template.meta_id:
            failed[template] = _("It is not at Meta (no Meta id).")
        elif archive and template.status not in ARCHIVABLE:
            failed[template] = _("Meta archives approved or rejected templates only.")
        elif not archive and template.status != MessageTemplate.Status.ARCHIVED:
            failed[template] = _("It is not archived.")
        else:
            groups.setdefault((template.organization_id, template.waba_id), []).append(template)
    for group in groups.values():
        try:
            client = client_for(_number(group[0]))
        except TemplateDefinitionError as error:
            failed.update({t: error.errors[0][1] for t in group})
            continue
        for start in range(0, len(group), meta.ARCHIVE_BATCH):
            chunk = {t.meta_id: t for t in group[start:start + meta.ARCHIVE_BATCH]}
            try:
                ok, refused = meta.templates_archive(client, group[0].waba_id, list(chunk), archive=archive)
            except GraphAPIError as error:
                failed.update({t: _refused(error).errors[0][1] for t in chunk.values()})
                continue
            for meta_id, reason in refused.items():
                if meta_id in chunk:
                    failed[chunk[meta_id]] = reason
            for meta_id in ok:
                template = chunk.get(meta_id)
                if template is None:
                    continue
                status = MessageTemplate.Status.ARCHIVED if archive else _status_at_meta(client, meta_id)
                MessageTemplate.objects.filter(pk=template.pk).update(status=status, synced_at=timezone.now())
                template.refresh_from_db()
                done.append(template)
    return done, failed


def _status_at_meta(client, template_id: str) -> str:
    """The status Meta restored on unarchiving (APPROVED, as Meta's default, if it cannot be read)."""
    try:
        status = meta.template_status(client, template_id).upper()
    except GraphAPIError:
        status = ""
    return status if status in MessageTemplate.Status.values else MessageTemplate.Status.APPROVED


def template_status_refresh(*, template_id: int) -> MessageTemplate | None:
    """Read the template's status from Meta, after a notice that said it changed but not
    to what (UNARCHIVED: Meta restores the status it had before archiving, which may be
    REJECTED). Raises GraphAPIError when Meta cannot be read (the task retries it)."""
    template = MessageTemplate.objects.filter(pk=template_id).first()
    if template is None or not template.meta_id:
        return template
    try:
        client = client_for(_number(template))
    except TemplateDefinitionError:
        return template
    try:
        status = meta.template_status(client, template.meta_id).upper()
    except GraphAPIError as error:
        if error.retryable:
            raise
        return template  # Meta does not know it (deleted since): the next sync says so
    if status in MessageTemplate.Status.values and status != template.status:
        MessageTemplate.objects.filter(pk=template.pk).update(status=status, synced_at=timezone.now())
        template.refresh_from_db()
    return template
