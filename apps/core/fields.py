from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """A text column stored encrypted (Fernet). Python code sees the clear value.

    The clear value never reaches the database, and the field's repr in admin,
    logs or serializers must go through `crypto.mask`.
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value)
