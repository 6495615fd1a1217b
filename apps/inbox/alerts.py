"""The account alerts strip of the inbox, for the organisation's admins: Meta's
account-level notices (apps.messaging.account_health) until an admin dismisses them.
Thin: a selector reads, a service dismisses."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.messaging.account_health import alert_dismiss, alert_text
from apps.whatsapp import selectors


def _strip(request, *, status=200):
    alerts = [
        {"alert": a, "text": alert_text(a)}
        for a in selectors.alerts_open(user=request.user)
    ]
    response = render(request, "inbox/_account_alerts.html", {"alerts": alerts})
    response.status_code = status
    return response


@login_required
@require_GET
def account_alerts(request):
    return _strip(request)


@login_required
@require_POST
def account_alert_dismiss(request, pk):
    alert = selectors.alert_get(user=request.user, pk=pk)
    if alert is None:
        raise Http404
    try:
        alert_dismiss(alert=alert, actor=request.user)
    except PermissionDenied:
        raise Http404 from None
    return _strip(request)
