"""Reads of the reports, scoped to the requesting user: supervisors and admins see
their organisation's figures; nobody else sees any (access.can_view_reports)."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils.translation import gettext as _

from apps.accounts import access

from . import sections
from .params import ReportParams
from .sections import Table

# Every table the report produces, by name, and the section that computes it.
TABLES: dict[str, object] = {
    "summary": sections.summary,
    "volume": sections.volume,
    "messages-by-type": sections.messages_report,
    "messages-by-author": sections.messages_report,
    "response-times": sections.response_times,
    "agents": sections.agents,
    "bot": sections.bot,
    "delivery": sections.delivery,
    "failures": sections.delivery,
    "templates": sections.templates,
    "template-categories": sections.templates,
    "cost-by-category": sections.cost,
    "cost-by-number": sections.cost,
    "cost-by-template": sections.cost,
    "calls": sections.calls,
    "referrals": sections.referrals,
    "heatmap": sections.heatmap,
    "opt-outs": sections.opt_outs,
}


def _require(user, params: ReportParams) -> None:
    if not access.can_view_reports(user) or user.organization_id != params.organization_id:
        raise PermissionDenied(_("Reports are for supervisors and admins."))


@contextmanager
def _report_transaction():
    """One read-only transaction per report, without JIT (compiling these aggregate
    queries costs more than running them) and with room to sort the waiting-time
    window in memory."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def report_tables(*, user, params: ReportParams) -> list[Table]:
    """The whole report: every section, in page order."""
    _require(user, params)
    tables: list[Table] = []
    shared: dict = {}  # passes over the messages that several sections use
    with _report_transaction():
        for section in sections.SECTIONS:
            tables.extend(section(params, shared))
    return tables


def report_table(*, user, params: ReportParams, name: str) -> Table:
    """One table by name (KeyError for an unknown name)."""
    _require(user, params)
    section = TABLES[name]
    with _report_transaction():
        return next(t for t in section(params) if t.name == name)
