"""Meta's account-level notices acted on: the organisation's admins alerted, the sends
a restriction covers refused with the reason, a disabled account's sending paused.

The inbound pipeline stores each notice once (`inbound.AccountEvent`) and hands the new
ones here (`account_notice_apply`) with the numbers the notice is about (one number, or
every number of the WABA that signed the delivery). The provider's reader
(apps/providers/meta/account_health.py) says what the notice means; this module:

- writes one `AccountAlert` per organisation (shown to its admins in the inbox until one
  dismisses it, and in Django admin), an audit entry, and the live event
  `account.alert` to the organisation's supervisors and admins;
- keeps an ACCOUNT_RESTRICTION's restrictions on the numbers (`WhatsAppNumber
  .restrictions`), which `restriction_for_send` reads for every send: a restriction of
  business-initiated messaging refuses sends outside the customer's 24-hour window, one
  of customer-initiated messaging the answers inside it, until it expires;
- pauses the numbers' sending when the account may send nothing at all (disabled,
  deleted, offboarded, the app's access removed, its review rejected), with the reason
  shown in the composer (sending/pause.py), and lifts the pause when Meta reinstates it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.providers.meta.account_health import (
    BUSINESS_INITIATED,
    CUSTOMER_INITIATED,
    HealthNotice,
    read_notice,
)
from apps.whatsapp.models import AccountAlert, WhatsAppNumber

logger = logging.getLogger(__name__)

# What an admin reads, and what to do, by (field, event); Meta's own words otherwise.
ALERT_TEXTS = {
    ("account_update", "ACCOUNT_RESTRICTION"): gettext_lazy(
        "WhatsApp restricted the account for policy violations. Until the restriction ends, the sends it covers "
        "are refused. Review the account's quality in WhatsApp Manager."
    ),
    ("account_update", "ACCOUNT_VIOLATION"): gettext_lazy(
        "WhatsApp found a policy violation on the account. Read the notice in WhatsApp Manager; repeated "
        "violations lead to restrictions."
    ),
    ("account_update", "DISABLED_UPDATE"): gettext_lazy(
        "The account's ban state changed. A disabled account sends nothing: its messages wait. Appeal in "
        "WhatsApp Manager."
    ),
    ("account_update", "ACCOUNT_DELETED"): gettext_lazy(
        "The WhatsApp Business account was deleted: nothing can be "
        "sent from its numbers."
    ),
    ("account_update", "ACCOUNT_OFFBOARDED"): gettext_lazy(
        "The account was offboarded (the number changed device or was registered again): its messages wait until "
        "it is reconnected."
    ),
    ("account_update", "PARTNER_APP_UNINSTALLED"): gettext_lazy(
        "The business removed this application's access to the account: nothing can be sent until it is granted "
        "again."
    ),
    ("account_review_update", "REJECTED"): gettext_lazy(
        "WhatsApp rejected the account's review: it cannot send. Fix the business details and ask for a new "
        "review in WhatsApp Manager."
    ),
    ("phone_number_name_update", "REJECTED"): gettext_lazy(
        "WhatsApp rejected the number's display name. Choose another name in WhatsApp Manager."
    ),
    ("security", "PIN_CHANGED"): gettext_lazy(
        "The number's two-step verification PIN was changed in WhatsApp Manager. If nobody of the business did "
        "it, secure the Meta Business account."
    ),
    ("security", "PIN_RESET_REQUEST"): gettext_lazy(
        "Someone asked to turn off the number's two-step verification. If nobody of the business did it, secure "
        "the Meta Business account."
    ),
    ("security", "PIN_RESET_SUCCESS"): gettext_lazy(
        "The number's two-step verification was turned off. Set a new PIN (the number's admin action)."
    ),
    ("phone_number_quality_update", "FLAGGED"): gettext_lazy(
        "WhatsApp flagged the number's quality as low: fewer marketing messages and more replies help; if it "
        "stays low, its messaging limit goes down."
    ),
    ("phone_number_quality_update", "DOWNGRADE"): gettext_lazy(
        "WhatsApp lowered the number's messaging limit."
    ),
}


def alert_text(alert: AccountAlert) -> str:
    """What the alert means in the reader's language, with Meta's own words."""
    known = ALERT_TEXTS.get((alert.field, alert.event))
    return f"{known} ({alert.summary})" if known else alert.summary


def _restrictions(notice: HealthNotice) -> list[dict]:
    return [
        {
            "type": r.type,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "covers": r.covers,
        }
        for r in notice.restrictions
    ]


def account_notice_apply(
    *, waba_id: str, numbers: list[WhatsAppNumber], field: str, value: dict, key: str
) -> list[AccountAlert]:
    """Act on one new account notice (see the module's doc) about `numbers` (one number,
    or the WABA's numbers that signed it); `key` identifies the notice (a redelivery
    changes nothing). Returns the alerts written."""
    from apps.conversations.models import AuditLogEntry
    from apps.realtime import groups
    from apps.realtime.publish import publish

    from .sending.pause import number_sending_pause, number_sending_resume

    notice = read_notice(field, value)
    alerts = []
    for organization_id in dict.fromkeys(n.organization_id for n in numbers):
        own = [n for n in numbers if n.organization_id == organization_id]
        try:
            with transaction.atomic():
                alert = AccountAlert.objects.create(
                    organization_id=organization_id,
                    number=own[0] if len(own) == 1 else None,
                    waba_id=waba_id,
                    field=field[:64],
                    event=notice.event[:64],
                    severity=notice.severity,
                    summary=notice.summary[:500],
                    details={**notice.details, "restrictions": _restrictions(notice)},
                    key=key[:64],
                )
                AuditLogEntry.objects.create(
                    organization_id=organization_id,
                    action="account.alert",
                    data={
                        "alert_id": alert.pk,
                        "field": field,
                        "event": notice.event,
                        "severity": notice.severity,
                        "number_ids": [n.pk for n in own],
                    },
                )
        except IntegrityError:  # the same notice again
            continue
        alerts.append(alert)
        publish(
            "account.alert",
            {
                "id": alert.pk,
                "severity": alert.severity,
                "field": field,
                "event": notice.event,
                "text": str(alert_text(alert)),
                "number_ids": [n.pk for n in own],
                "at": alert.created_at,
            },
            groups=[groups.org_supervisors(organization_id)],
        )
    if not alerts:
        return alerts
    if notice.event == "ACCOUNT_RESTRICTION":
        restrictions = _restrictions(notice)
        WhatsAppNumber.objects.filter(pk__in=[n.pk for n in numbers]).update(
            restrictions=restrictions
        )
    reason = str(ALERT_TEXTS.get((field, notice.event)) or notice.summary)
    for number in numbers:
        if notice.stops_all:
            number_sending_pause(
                number=number, code=None, reason=f"{reason} ({notice.summary})"[:2000]
            )
        elif notice.lifts_all:
            WhatsAppNumber.objects.filter(pk=number.pk).update(restrictions=[])
            number_sending_resume(number_id=number.pk, how=f"account: {notice.summary}")
    return alerts


def restriction_for_send(
    number: WhatsAppNumber, *, window_open: bool, now: datetime | None = None
) -> dict | None:
    """The restriction of `number`'s account that covers a send now (outside the
    customer's window: business-initiated; inside: customer-initiated), or None."""
    covers = CUSTOMER_INITIATED if window_open else BUSINESS_INITIATED
    now = now or timezone.now()
    for restriction in number.restrictions or []:
        if not isinstance(restriction, dict) or restriction.get("covers") != covers:
            continue
        expires = parse_datetime(restriction.get("expires_at") or "")
        if expires is None or expires > now:
            return {**restriction, "expires": expires}
    return None


def restriction_text(restriction: dict) -> str:
    expires = restriction.get("expires")
    until = (
        _("until %(when)s")
        % {"when": timezone.localtime(expires).strftime("%Y-%m-%d %H:%M")}
        if expires
        else _("until WhatsApp lifts it")
    )
    if restriction.get("covers") == BUSINESS_INITIATED:
        return _(
            "WhatsApp restricted this account from starting conversations (%(until)s): outside the customer's "
            "24-hour window nothing can be sent."
        ) % {"until": until}
    return _(
        "WhatsApp restricted this account from answering customers (%(until)s): nothing can be sent in this "
        "conversation."
    ) % {"until": until}


def alert_dismiss(*, alert: AccountAlert, actor) -> bool:
    """An admin has read the alert: it leaves the inbox (kept in Django admin)."""
    if (
        not getattr(actor, "is_org_admin", False)
        or actor.organization_id != alert.organization_id
    ):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(
            _("Only the organisation's admins may dismiss account alerts.")
        )
    return bool(
        AccountAlert.objects.filter(pk=alert.pk, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now(), dismissed_by=actor
        )
    )
