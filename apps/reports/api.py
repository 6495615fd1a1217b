"""The report's figures as JSON, for BI tools: one table per endpoint."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import access

from . import selectors
from .params import ReportInputError, report_params_parse

PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (inclusive), organisation's zone. "
                     "Default: 29 days before end."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (inclusive). Default: today."),
    OpenApiParameter("tz", OpenApiTypes.STR, description="IANA time zone of the days and hours, e.g. "
                     "'America/Sao_Paulo'. Default: the organisation's."),
    OpenApiParameter("number", OpenApiTypes.INT, description="Only conversations on this number"),
    OpenApiParameter("team", OpenApiTypes.INT, description="Only conversations of this team"),
    OpenApiParameter("agent", OpenApiTypes.INT, description="Only conversations assigned to this user"),
    OpenApiParameter("label", OpenApiTypes.INT, description="Only conversations with this label"),
    OpenApiParameter("hours", OpenApiTypes.STR, description="Business hours for the durations, e.g. "
                     "'mon-fri 09:00-18:00, sat 09:00-13:00' (local time)"),
]

REPORT = inline_serializer("ReportTable", {
    "report": serializers.CharField(),
    "title": serializers.CharField(),
    "params": serializers.DictField(),
    "columns": serializers.ListField(child=serializers.CharField()),
    "rows": serializers.ListField(child=serializers.ListField()),
})


class ReportListView(APIView):
    @extend_schema(
        summary="The report tables available",
        operation_id="reports_list",
        responses={200: inline_serializer("ReportNames", {"reports": serializers.ListField(child=serializers.CharField())})},
    )
    def get(self, request):
        if not access.can_view_reports(request.user):
            raise PermissionDenied(_("Reports are for supervisors and admins."))
        return Response({"reports": list(selectors.TABLES)})


class ReportView(APIView):
    @extend_schema(
        summary="One report table",
        operation_id="reports_retrieve",
        description="Figures of one table of the supervisors' report (the same as the page and its CSV). "
                    "Reports: " + ", ".join(selectors.TABLES) + ".",
        parameters=PARAMETERS,
        responses={200: REPORT, 400: OpenApiResponse(description="Invalid parameter (named)"),
                   403: OpenApiResponse(description="Not a supervisor or admin"), 404: OpenApiResponse()},
    )
    def get(self, request, report: str):
        if not access.can_view_reports(request.user):
            raise PermissionDenied(_("Reports are for supervisors and admins."))
        if report not in selectors.TABLES:
            raise NotFound(_("No such report."))
        try:
            params = report_params_parse(user=request.user, data=request.query_params)
        except ReportInputError as error:
            raise ValidationError({error.field: [error.text]}) from None
        table = selectors.report_table(user=request.user, params=params, name=report)
        return Response({**table.as_dict(), "params": params.as_dict()})
