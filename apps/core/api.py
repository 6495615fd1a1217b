"""What every REST endpoint shares: the parsers and the paginator (set as the
defaults in settings.REST_FRAMEWORK), and the field of an id taken from input."""

from __future__ import annotations

from rest_framework import pagination, parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError

from . import params


def _refuse(where: str | None) -> None:
    if where is not None:
        raise ParseError(params.invalid_message(where))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a document with NUL or a lone surrogate in any key
    or value (400 naming where): PostgreSQL cannot store them, and a lone surrogate
    cannot even be written back in an error message."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse(params.first_unstorable(data))
        return data


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing as the JSON parser does (400 naming the field) a
    field whose name or value holds NUL or a lone surrogate, whatever the method: the
    request guard (apps/core/middleware.py) does not read every body (one past
    DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse(params.first_unstorable_field(data))
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing the same in fields and uploaded files' names."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _refuse(params.first_unstorable_field(parsed.data, parsed.files))
        return parsed


class IdField(serializers.IntegerField):
    """An id of ours taken from a request: a whole number from 1 to the largest bigint.
    DRF's IntegerField takes any size, and PostgreSQL refuses one past bigint."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", params.BIGINT_MAX)
        super().__init__(**kwargs)


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


def validated_data(serializer_class, data):
    """`data` read through `serializer_class`; a 400 naming the fields otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
