"""RowLoader: rows of hand-written SQL become model instances as the ORM makes them."""

import pytest
from django.db import connection

from apps.conversations.models import Contact
from apps.conversations.tests.factories import ContactFactory
from apps.core.rows import RowLoader

pytestmark = pytest.mark.django_db


def test_a_row_goes_through_each_columns_converters():
    contact = ContactFactory(attributes={"plan": ["gold", 1]}, name="Ana")
    fields = [Contact._meta.get_field(name) for name in ("id", "name", "attributes")]
    fields.sort(key=list(Contact._meta.concrete_fields).index)
    loader = RowLoader(Contact, fields, connection)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {Contact._meta.db_table} WHERE id = %s", [contact.pk])
        loaded = loader.load(cursor.fetchone())
    assert (loaded.pk, loaded.name, loaded.attributes) == (contact.pk, "Ana", {"plan": ["gold", 1]})
    assert not loaded._state.adding and loaded._state.db == connection.alias


def test_fields_out_of_the_models_order_are_refused():
    fields = [Contact._meta.get_field("attributes"), Contact._meta.get_field("id")]
    with pytest.raises(ValueError, match="model's order"):
        RowLoader(Contact, fields, connection)
