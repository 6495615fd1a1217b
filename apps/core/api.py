"""What every REST endpoint shares: the JSON parser and the paginator (set as the
defaults in settings.REST_FRAMEWORK)."""

from __future__ import annotations

from rest_framework import pagination, parsers
from rest_framework.exceptions import ParseError, ValidationError

from . import params


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a document with NUL or a lone surrogate in any key
    or value (400 naming where): PostgreSQL cannot store them, and a lone surrogate
    cannot even be written back in an error message."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        where = params.first_unstorable(data)
        if where is not None:
            raise ParseError(params.invalid_message(where))
        return data


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset pages with the limit capped at max_limit (DRF reads a bigger
    one as max_limit) and an offset that is not a whole number up to MAX_OFFSET refused:
    either past bigint made PostgreSQL fail the query, and a huge limit read the table."""

    max_limit = 200
    MAX_OFFSET = 10**9

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param, "")
        try:
            offset = params.bounded_int(raw, field=self.offset_query_param, minimum=0, maximum=self.MAX_OFFSET,
                                        default=0)
        except params.BadParameter as error:
            raise ValidationError({self.offset_query_param: [error.message]}) from None
        return offset
