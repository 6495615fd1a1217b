"""Model instances from the rows of hand-written SQL (an UPDATE … RETURNING, say),
built as the ORM builds them: every column through its database converters (a JSON
or encrypted field would otherwise keep the raw value on one backend only).

The statements that use it run on hot paths (the send claim loads five instances per
message, the simulator two per simulated call), so a loader does the ORM's work with
less Python: an encrypted column is decrypted once per process for each stored value
(`_remembered`), and an instance whose model allows it is built as Model.__init__
would leave it without running it (`_plain_attributes`, `load`)."""

from __future__ import annotations

from django.db.models.base import Model, ModelState
from django.db.models.signals import post_init, pre_init

from .fields import EncryptedTextField


class RowLoader:
    """Loads `fields` of `model` (concrete fields, in the model's order: `from_db`
    takes partial rows in that order) from a row's values. Build one per model, field
    list and connection, and keep it: the converters are looked up once. Converters
    get the connection the loader was built with: they read its settings, they run
    no query."""

    def __init__(self, model, fields, connection):
        order = {field: position for position, field in enumerate(model._meta.concrete_fields)}
        if [order[field] for field in fields] != sorted(order[field] for field in fields):
            raise ValueError(f"{model.__name__}: fields must be in the model's order")
        self.model = model
        self.alias = connection.alias
        self.names = [field.attname for field in fields]
        self.pk_index = self.names.index(model._meta.pk.attname) if model._meta.pk in fields else None
        self._connection = connection
        self._convert = []
        for position, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if isinstance(field, EncryptedTextField):
                converters = [_remembered(converter) for converter in converters]
            if converters:
                self._convert.append((position, column, converters))
        # Whether instances may skip Model.__init__ (see `load`): fixed by the class;
        # the signals' listeners are looked at on every load (one may connect later).
        self.plain = (
            model.__init__ is Model.__init__ and model.from_db.__func__ is Model.from_db.__func__
            and _plain_attributes(model, self.names)
        )

    def __len__(self) -> int:
        return len(self.names)

    def load(self, values):
        """`model.from_db(alias, names, values)` after the converters. When the model
        keeps each field as a plain instance attribute, does not override __init__ or
        from_db, and nothing listens to its pre_init or post_init signals, the instance
        is built as Model.__init__ would leave it (the given fields set, the others
        deferred, a state loaded from the loader's database) without running it:
        Model.__init__ was most of the send claim's CPU."""
        if self._convert:
            values = list(values)
            for position, column, converters in self._convert:
                value = values[position]
                for converter in converters:
                    value = converter(value, column, self._connection)
                values[position] = value
        model = self.model
        if not self.plain or pre_init.has_listeners(model) or post_init.has_listeners(model):
            return model.from_db(self.alias, self.names, values)
        obj = model.__new__(model)
        obj.__dict__.update(zip(self.names, values))
        state = obj._state = ModelState()
        state.adding, state.db = False, self.alias
        return obj


def _plain_attributes(model, names: list[str]) -> bool:
    """Whether each of `names` is stored by Model.__init__ as a plain instance
    attribute: no descriptor on the class that does more than that (a field's
    DeferredAttribute, a foreign key's id attribute on a new instance)."""
    from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
    from django.db.models.query_utils import DeferredAttribute

    for name in names:
        for klass in model.__mro__:
            if name in klass.__dict__:
                if type(klass.__dict__[name]) not in (DeferredAttribute, ForeignKeyDeferredAttribute):
                    return False
                break
    return True


# Stored encrypted value -> its clear value, for the values this process has read
# (a number's access token is read on every send: one Fernet decryption per send was
# a tenth of the claim's CPU). Bounded: cleared when full.
_clear_values: dict = {}
_CLEAR_VALUES_MAX = 1000


def _remembered(convert):
    """`convert`, run once per process for each stored value."""

    def run(value, expression, connection):
        if not value:
            return convert(value, expression, connection)
        clear = _clear_values.get(value)
        if clear is None:
            if len(_clear_values) >= _CLEAR_VALUES_MAX:
                _clear_values.clear()
            clear = _clear_values[value] = convert(value, expression, connection)
        return clear

    return run
