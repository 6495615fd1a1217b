"""The reports page and its CSV downloads: thin, they parse, ask the selectors, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.accounts import access
from apps.accounts.models import Team, User
from apps.conversations.models import Label
from apps.whatsapp.models import WhatsAppNumber

from . import selectors
from .labels import LABELS
from .export import csv_filename, table_csv
from .params import ReportInputError, report_params_parse, zone_choices


def _require(request) -> None:
    if not access.can_view_reports(request.user):
        raise PermissionDenied(_("Reports are for supervisors and admins."))


@login_required
def report_page(request):
    _require(request)
    org_id = request.user.organization_id
    choices = {
        "numbers": WhatsAppNumber.objects.filter(organization_id=org_id).order_by("name", "pk"),
        "teams": Team.objects.filter(organization_id=org_id),
        "agents": User.objects.filter(organization_id=org_id, is_active=True).order_by("username"),
        "labels": Label.objects.filter(organization_id=org_id),
        "form": {key: request.GET.get(key, "") for key in ("start", "end", "hours", "tz")},
        "zones": zone_choices(),
    }
    try:
        params = report_params_parse(user=request.user, data=request.GET)
    except ReportInputError as error:
        return render(request, "reports/page.html", {"error": error.text, "error_field": error.field, **choices},
                      status=400)
    tables = selectors.report_tables(user=request.user, params=params)
    choices["form"].update(start=params.start_date.isoformat(), end=params.end_date.isoformat(), tz=params.tz.key)
    return render(request, "reports/page.html", {
        "params": params,
        "tables": tables,
        "data": {t.name: t.as_dict() for t in tables},
        "query": request.GET.urlencode(),
        "i18n": {
            "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
            "none": _("Nothing in this range."),
            "series": {key: str(LABELS[key]) for key in ("opened", "resolved", "received", "sent", "opted_out",
                                                          "opted_in", "delivered", "read", "failed", "total", "agent", "bot",
                                                          "template", "notification", "system", "integration")},
        },
        **choices,
    })


@login_required
def report_csv(request, name: str):
    _require(request)
    if name not in selectors.TABLES:
        raise Http404(_("No such report."))
    try:
        params = report_params_parse(user=request.user, data=request.GET)
    except ReportInputError as error:
        return HttpResponse(error.text, status=400, content_type="text/plain; charset=utf-8")
    table = selectors.report_table(user=request.user, params=params, name=name)
    response = HttpResponse(table_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(table, params)}"'
    return response
