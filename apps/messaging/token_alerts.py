"""Alerting an organisation when Meta refuses a number's access token: the domain's
reaction to the provider's signal (apps.providers.meta.signals.token_refused, sent by
the Graph client; connected in MessagingConfig.ready)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def token_error_report(*, number, error, **signal) -> None:
    """Record that `number`'s access token was refused and alert its organisation's
    admins (a stored notice on the number, an audit log entry, a live event). The
    receiver of token_refused (`signal`: the signal's own arguments, sender and signal)."""
    from django.utils import timezone

    from apps.conversations.models import AuditLogEntry
    from apps.realtime import groups
    from apps.realtime.publish import publish
    from apps.whatsapp.models import WhatsAppNumber

    if number is None or number.pk is None:
        return
    now = timezone.now()
    text = f"({error.code}) {error.message}"
    try:
        WhatsAppNumber.objects.filter(pk=number.pk).update(token_error=text, token_error_at=now)
        number.token_error, number.token_error_at = text, now
        AuditLogEntry.objects.create(
            organization_id=number.organization_id,
            action="number.token_error",
            data={"number_id": number.pk, "code": error.code, "message": error.message},
        )
        publish(
            "number.token_error",
            {"number_id": number.pk, "name": str(number), "code": error.code, "message": error.message, "at": now},
            groups=[groups.org_supervisors(number.organization_id)],
        )
    except Exception:  # the alert must never hide the original error
        logger.exception("could not record the token error of number %s", number.pk)
