"""A typed phone number and WhatsApp's id of the same line (Brazil's ninth digit,
Mexico's 521)."""

import pytest

from apps.conversations.identity import wa_id_normalise, wa_id_variants


@pytest.mark.parametrize(("typed", "wa_id"), [
    ("+55 (11) 98765-4321", "5511987654321"),  # Brazil, nine digits: as typed
    ("55 11 8765-4321", "5511987654321"),  # Brazil, an eight-digit mobile: the ninth digit added
    ("+55 11 3333-4444", "551133334444"),  # Brazil, a landline (starts 2 to 5): unchanged
    ("+52 55 1234 5678", "5215512345678"),  # Mexico without the 1: WhatsApp's 521
    ("+52 1 55 1234 5678", "5215512345678"),  # Mexico with it: unchanged
    ("+1 (650) 555-1234", "16505551234"),  # elsewhere: the digits
    ("+44 7700 900123", "447700900123"),
    ("", ""),
])
def test_a_typed_number_becomes_the_form_whatsapp_most_likely_has(typed, wa_id):
    assert wa_id_normalise(typed) == wa_id


@pytest.mark.parametrize(("wa_id", "variants"), [
    ("5511987654321", ("5511987654321", "551187654321")),
    ("551187654321", ("551187654321", "5511987654321")),
    ("5511912345678", ("5511912345678",)),  # 9 then 1: a number that never had eight digits
    ("551133334444", ("551133334444",)),  # a landline
    ("5501987654321", ("5501987654321",)),  # no area code has a 0
    ("5215512345678", ("5215512345678", "525512345678")),
    ("525512345678", ("525512345678", "5215512345678")),
    ("16505551234", ("16505551234",)),
])
def test_every_form_of_the_same_line(wa_id, variants):
    assert wa_id_variants(wa_id) == variants
