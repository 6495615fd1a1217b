"""Request parameters checked in one place, before they reach a query.

Every door (the inbox's views and actions, the REST API) reads its query-string and
form values through these helpers or through the guards built on them, so that a
value the database cannot take is a clear 400 and never a 500:

- text with NUL or an unpaired surrogate: PostgreSQL refuses NUL in text, and a lone
  surrogate cannot be encoded at all. RequestParameterGuard (apps/core/middleware.py)
  refuses them in every query string and form or multipart body, whatever the
  method; the API's parsers (apps/core/api.py) anywhere in a JSON, form or multipart
  body;
- ids: ASCII digits only ("²".isdigit() is true, int("²") fails), from 1 to the
  largest bigint (PostgreSQL refuses a bigger one);
- page sizes and offsets: capped (apps/core/api.py's paginator).
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

BIGINT_MAX = 2**63 - 1
# NUL, and UTF-16 surrogates (which a valid Unicode string never holds unpaired).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ASCII_DIGITS = re.compile(r"[0-9]+")


class BadParameter(ValueError):
    """A request parameter that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str | None = None):
        self.field = field
        self.message = message or invalid_message(field)
        super().__init__(field)


def invalid_message(field: str) -> str:
    return _("Invalid value for “%(field)s”.") % {"field": field}


def unstorable(value) -> bool:
    """True when `value` (a string) holds a character no database column can store."""
    return isinstance(value, str) and _UNSTORABLE.search(value) is not None


def first_unstorable(data) -> str | None:
    """The path of the first string (key or value) in `data` (a JSON document: dicts,
    lists, scalars) holding such a character, or None."""
    stack = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if unstorable(value):
                return path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if unstorable(key):
                    return path or "body"
                stack.append((name, item))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


def first_unstorable_field(data, files=None) -> str | None:
    """The name of the first field of a form (a QueryDict: a query string, a form or
    multipart body) with such a character in a value, in its own name, or in the name
    of a file uploaded under it (`files`, a MultiValueDict); None when there is none.
    A name that is itself bad is given with those characters replaced: a lone
    surrogate cannot even be written into the error message."""
    for key, values in data.lists():
        if unstorable(key):
            return _UNSTORABLE.sub("\N{REPLACEMENT CHARACTER}", key)
        if any(unstorable(value) for value in values):
            return key
    for key, uploads in (files.lists() if files is not None else ()):
        if unstorable(key):
            return _UNSTORABLE.sub("\N{REPLACEMENT CHARACTER}", key)
        if any(unstorable(getattr(upload, "name", "")) for upload in uploads):
            return key
    return None


def text(value, *, field: str, max_length: int | None = None) -> str:
    """`value` as text (None is ""), refused when it holds NUL or a lone surrogate;
    cut to `max_length` when given (a search term longer than that finds nothing more)."""
    value = "" if value is None else str(value)
    if unstorable(value):
        raise BadParameter(field)
    return value[:max_length] if max_length is not None else value


def positive_id(value, *, field: str, required: bool = False) -> int | None:
    """An id: ASCII digits, 1 to the largest bigint. Empty is None (or refused when
    `required`); anything else is refused."""
    value = "" if value is None else str(value).strip()
    if not value:
        if required:
            raise BadParameter(field)
        return None
    if not _ASCII_DIGITS.fullmatch(value) or len(value) > 19:
        raise BadParameter(field)
    number = int(value)
    if not 1 <= number <= BIGINT_MAX:
        raise BadParameter(field)
    return number


def bounded_int(value, *, field: str, minimum: int, maximum: int, default: int | None = None) -> int | None:
    """A whole number within [minimum, maximum] (ASCII digits, an optional minus);
    empty is `default`."""
    value = "" if value is None else str(value).strip()
    if not value:
        return default
    if not re.fullmatch(r"-?[0-9]{1,19}", value):
        raise BadParameter(field)
    number = int(value)
    if not minimum <= number <= maximum:
        raise BadParameter(field)
    return number
