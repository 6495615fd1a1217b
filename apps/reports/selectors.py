"""Reads of the reports, scoped to the requesting user: supervisors and admins see
their organisation's figures; nobody else sees any (access.can_view_reports)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

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
    "heatmap": sections.heatmap,
    "opt-outs": sections.opt_outs,
}


def _require(user, params: ReportParams) -> None:
    if not access.can_view_reports(user) or user.organization_id != params.organization_id:
        raise PermissionDenied("Reports are for supervisors and admins.")


def report_tables(*, user, params: ReportParams) -> list[Table]:
    """The whole report: every section, in page order."""
    _require(user, params)
    tables: list[Table] = []
    shared: dict = {}  # passes over the messages that several sections use
    for section in sections.SECTIONS:
        tables.extend(section(params, shared))
    return tables


def report_table(*, user, params: ReportParams, name: str) -> Table:
    """One table by name (KeyError for an unknown name)."""
    _require(user, params)
    section = TABLES[name]
    return next(t for t in section(params) if t.name == name)
