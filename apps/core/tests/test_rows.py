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


class ContactWithOwnInit(Contact):
    """A model that overrides __init__ (a proxy: no table of its own)."""

    built_by_own_init = False

    class Meta:
        proxy = True
        app_label = "conversations"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.built_by_own_init = True


def test_a_model_with_its_own_init_is_built_by_it():
    # Plain instances are built without Model.__init__ only for models that do not
    # override it (or from_db): an overriding model gets its own.
    fields = [ContactWithOwnInit._meta.get_field("id"), ContactWithOwnInit._meta.get_field("name")]
    loader = RowLoader(ContactWithOwnInit, fields, connection)
    loaded = loader.load([7, "Ana"])
    assert not loader.plain
    assert loaded.built_by_own_init and (loaded.pk, loaded.name) == (7, "Ana")


def test_a_plain_instance_is_what_from_db_builds():
    fields = [Contact._meta.get_field("id"), Contact._meta.get_field("name")]
    loader = RowLoader(Contact, fields, connection)
    assert loader.plain
    plain, built = loader.load([7, "Ana"]), Contact.from_db(connection.alias, ["id", "name"], [7, "Ana"])
    assert plain.__dict__.keys() == built.__dict__.keys()
    assert ({k: v for k, v in plain.__dict__.items() if k != "_state"}
            == {k: v for k, v in built.__dict__.items() if k != "_state"})
    assert (plain._state.adding, plain._state.db) == (built._state.adding, built._state.db) == (False, connection.alias)
    assert plain.get_deferred_fields() == built.get_deferred_fields()


def test_an_encrypted_value_is_decrypted_once_per_process(monkeypatch):
    from apps.core import crypto, rows
    from apps.whatsapp.models import WhatsAppNumber

    decrypted = []
    decrypt = crypto.decrypt

    def counting(value):
        decrypted.append(value)
        return decrypt(value)

    monkeypatch.setattr(crypto, "decrypt", counting)
    monkeypatch.setattr(rows, "_clear_values", {})
    fields = [WhatsAppNumber._meta.get_field("id"), WhatsAppNumber._meta.get_field("access_token")]
    loader = RowLoader(WhatsAppNumber, fields, connection)
    stored = crypto.encrypt("token-1")
    first, second = loader.load([1, stored]), loader.load([2, stored])
    assert (first.access_token, second.access_token) == ("token-1", "token-1")
    assert decrypted == [stored]
    assert loader.load([3, ""]).access_token == ""
