"""Flow, product, product-list and contacts messages built as Meta's documentation
shows them (fixtures/send_*.json), Meta's limits, the account's Flows and catalog read
from Meta's documented answers, and a Flow's answer as readable rows. The same sends
run against the simulator over HTTP in apps/messaging/tests/test_send_composer_kinds.py."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from apps.messaging.validation import SendError, build_payload
from apps.providers.meta import commerce, contact_cards, flows

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class Client:
    def __init__(self, *answers):
        self.number = SimpleNamespace(phone_number_id="106540352242922")
        self.answers, self.calls = list(answers), []

    def call(self, method, *segments, json=None, params=None):
        self.calls.append((method, segments, params))
        return self.answers.pop(0)


def refused(kind, payload) -> SendError:
    with pytest.raises(SendError) as error:
        build_payload(kind, payload)
    return error.value


# --- Flows ------------------------------------------------------------------------


def test_a_flow_message_is_metas():
    sent = fixture("send_flow")["interactive"]
    parameters = sent["action"]["parameters"]
    built = build_payload("interactive", {
        "type": "flow", "header": "Book a visit", "body": "Pick a day and a time that suit you.",
        "footer": "It takes a minute", "flow_id": parameters["flow_id"], "flow_cta": "Book!",
        "flow_token": parameters["flow_token"], "screen": "APPOINTMENT",
        "data": parameters["flow_action_payload"]["data"]})
    assert built == sent


def test_a_flow_by_name_in_data_exchange_gets_a_token_of_its_own():
    built = build_payload("interactive", {"type": "flow", "body": "Tell us", "flow_name": "Customer feedback",
                                          "flow_cta": "Answer", "flow_action": "data_exchange", "mode": "draft"})
    parameters = built["action"]["parameters"]
    assert (parameters["flow_name"], parameters["mode"], parameters["flow_action"]) == (
        "Customer feedback", "draft", "data_exchange")
    assert "flow_id" not in parameters and "flow_action_payload" not in parameters
    assert len(parameters["flow_token"]) == 32


@pytest.mark.parametrize(("fields", "field", "code"), [
    ({}, "interactive.flow_id", "required"),
    ({"flow_id": "1", "flow_name": "x"}, "interactive.flow_id", "required"),
    ({"flow_id": "1", "flow_cta": "A button text far too long"}, "interactive.flow_cta", "too_long"),
    ({"flow_id": "1", "flow_cta": "Book 📅"}, "interactive.flow_cta", "invalid"),
    ({"flow_id": "1", "flow_cta": "Book", "mode": "live"}, "interactive.mode", "invalid"),
    ({"flow_id": "1", "flow_cta": "Book", "flow_action": "jump"}, "interactive.flow_action", "invalid"),
    ({"flow_id": "1", "flow_cta": "Book", "data": {"a": 1}}, "interactive.screen", "required"),
    ({"flow_id": "1", "flow_cta": "Book", "screen": "S", "data": [1]}, "interactive.data", "invalid"),
    ({"flow_id": "1", "flow_cta": "Book", "flow_action": "data_exchange", "screen": "S"}, "interactive.screen",
     "not_allowed"),
])
def test_a_flow_message_meta_would_refuse_is_refused_here(fields, field, code):
    error = refused("interactive", {"type": "flow", "body": "Hi", **fields})
    assert (error.field, error.code) == (field, code)


def test_published_flows_are_read_by_name_without_drafts_or_deprecated():
    client = Client(fixture("flows_list"))
    found = flows.published_flows(client, "102290129340398")
    assert [(f.id, f.name) for f in found] == [("1234567890123456", "appointment_booking"),
                                               ("2345678901234567", "Customer feedback")]
    method, segments, params = client.calls[0]
    assert (method, segments, params["fields"]) == ("GET", ("102290129340398", "flows"), "id,name,status,categories")


def test_published_flows_follow_the_pages():
    first = {"data": [{"id": "1", "name": "b", "status": "PUBLISHED"}],
             "paging": {"cursors": {"after": "C1"}, "next": "https://graph.facebook.com/next"}}
    second = {"data": [{"id": "2", "name": "a", "status": "PUBLISHED"}], "paging": {"cursors": {"after": "C2"}}}
    client = Client(first, second)
    assert [f.id for f in flows.published_flows(client, "W")] == ["2", "1"]
    assert client.calls[1][2]["after"] == "C1"


def test_a_flow_answer_reads_as_a_form():
    message = fixture("nfm_reply_form")
    response = json.loads(message["interactive"]["nfm_reply"]["response_json"])
    assert flows.answer_rows(response) == [
        ("First name", "Maria"), ("Appointment date", "2026-12-09"), ("Services", "0_Haircut, 1_Colour"),
        ("Accepts terms", "Yes"),
    ]


# --- Products ---------------------------------------------------------------------


def test_a_product_message_is_metas():
    sent = fixture("send_product")["interactive"]
    built = build_payload("interactive", {"type": "product", "body": sent["body"]["text"],
                                          "footer": sent["footer"]["text"], **sent["action"]})
    assert built == sent
    bare = build_payload("interactive", {"type": "product", **sent["action"]})
    assert bare == {"type": "product", "action": sent["action"]}


def test_a_product_list_is_metas():
    sent = fixture("send_product_list")["interactive"]
    built = build_payload("interactive", {
        "type": "product_list", "header": sent["header"]["text"], "body": sent["body"]["text"],
        "footer": sent["footer"]["text"], "catalog_id": "9876543210",
        "sections": [{"title": "Shoes", "product_items": ["SKU-1", {"product_retailer_id": "SKU-2"}]},
                     {"title": "Socks", "product_items": [{"product_retailer_id": "SKU-3"}]}]})
    assert built == sent


def _items(count):
    return [{"product_retailer_id": f"SKU-{i}"} for i in range(count)]


@pytest.mark.parametrize(("payload", "field", "code"), [
    ({"type": "product", "catalog_id": "9"}, "interactive.product_retailer_id", "required"),
    ({"type": "product", "product_retailer_id": "S"}, "interactive.catalog_id", "required"),
    ({"type": "product", "header": "H", "catalog_id": "9", "product_retailer_id": "S"}, "interactive.header",
     "invalid"),
    ({"type": "product_list", "body": "B", "catalog_id": "9", "sections": [{"product_items": _items(1)}]},
     "interactive.header", "required"),
    ({"type": "product_list", "header": "H", "catalog_id": "9", "sections": [{"product_items": _items(1)}]},
     "interactive.body", "required"),
    ({"type": "product_list", "header": "H", "body": "B", "catalog_id": "9",
      "sections": [{"title": "A", "product_items": _items(20)}, {"title": "B", "product_items": _items(11)}]},
     "interactive.sections", "too_many_products"),
    ({"type": "product_list", "header": "H", "body": "B", "catalog_id": "9",
      "sections": [{"title": f"S{i}", "product_items": _items(1)} for i in range(11)]},
     "interactive.sections", "too_many"),
    ({"type": "product_list", "header": "H", "body": "B", "catalog_id": "9",
      "sections": [{"product_items": _items(1)}, {"title": "B", "product_items": _items(1)}]},
     "interactive.sections[0].title", "required"),
    ({"type": "product_list", "header": "H", "body": "B", "catalog_id": "9", "sections": [{"product_items": []}]},
     "interactive.sections[0].product_items", "required"),
])
def test_product_messages_meta_would_refuse_are_refused_here(payload, field, code):
    error = refused("interactive", payload)
    assert (error.field, error.code) == (field, code)


def test_thirty_products_in_ten_sections_are_accepted():
    sections = [{"title": f"S{i}", "product_items": _items(3)} for i in range(10)]
    built = build_payload("interactive", {"type": "product_list", "header": "H", "body": "B", "catalog_id": "9",
                                          "sections": sections})
    assert sum(len(s["product_items"]) for s in built["action"]["sections"]) == commerce.PRODUCT_ITEMS_MAX


def test_the_connected_catalog_is_read_from_the_account():
    client = Client(fixture("product_catalogs"), fixture("product_catalogs_none"))
    assert commerce.connected_catalog(client, "W") == commerce.Catalog(id="9876543210", name="Loja Exemplo")
    assert client.calls[0][:2] == ("GET", ("W", "product_catalogs"))
    assert commerce.connected_catalog(client, "W") is None


# --- Contacts ---------------------------------------------------------------------


def test_a_contacts_message_is_metas():
    sent = fixture("send_contacts")["contacts"]
    assert build_payload("contacts", {"contacts": sent}) == sent


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"phones": [{"type": "CELL"}]}, "contacts[0].phones[0].phone", "required"),
    ({"phones": [{"phone": "+1", "fax": "2"}]}, "contacts[0].phones[0].fax", "invalid"),
    ({"emails": {"email": "a@b.c"}}, "contacts[0].emails", "invalid"),
    ({"birthday": "23/01/1999"}, "contacts[0].birthday", "invalid"),
    ({"org": {"company": "X", "size": "big"}}, "contacts[0].org.size", "invalid"),
    ({"nickname": "Babs"}, "contacts[0].nickname", "invalid"),
])
def test_a_contact_card_meta_would_refuse_is_refused_here(change, field, code):
    card = {"name": {"formatted_name": "Ann Lee", "first_name": "Ann"}, **change}
    error = refused("contacts", {"contacts": [card]})
    assert (error.field, error.code) == (field, code)


def test_at_most_257_cards():
    card = {"name": {"formatted_name": "Ann Lee", "first_name": "Ann"}}
    assert len(contact_cards.cards([card] * 257)) == 257
    assert refused("contacts", {"contacts": [card] * 258}).code == "too_many"
