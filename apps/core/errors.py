"""The error every check of an outgoing message raises, wherever the check lives (the
send path's validation, a template's parameters): which field, which rule, and why in
words, ready for the API's 400 answer and the composer's inline error."""

from __future__ import annotations


class SendError(Exception):
    """A message that cannot be sent: which field, which rule, and why in words."""

    def __init__(self, field: str, code: str, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.field, self.code, self.message = field, code, message
        self.extra = extra or {}

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message, **self.extra}

    def __str__(self):
        return f"{self.field}: {self.message}"
