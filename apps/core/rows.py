"""Model instances from the rows of hand-written SQL (an UPDATE … RETURNING, say),
built as the ORM builds them: every column through its database converters (a JSON
or encrypted field would otherwise keep the raw value on one backend only)."""

from __future__ import annotations


class RowLoader:
    """Loads `fields` of `model` (concrete fields, in the model's order: `from_db`
    takes partial rows in that order) from a row's values. Build one per model, field
    list and connection, and keep it: the converters are looked up once."""

    def __init__(self, model, fields, connection):
        order = {field: position for position, field in enumerate(model._meta.concrete_fields)}
        if [order[field] for field in fields] != sorted(order[field] for field in fields):
            raise ValueError(f"{model.__name__}: fields must be in the model's order")
        self.model = model
        self.alias = connection.alias
        self.names = [field.attname for field in fields]
        self._connection = connection
        self._convert = []
        for position, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                self._convert.append((position, column, converters))

    def __len__(self) -> int:
        return len(self.names)

    def load(self, values):
        if self._convert:
            values = list(values)
            for position, column, converters in self._convert:
                for converter in converters:
                    values[position] = converter(values[position], column, self._connection)
        return self.model.from_db(self.alias, self.names, values)
