"""The composer's Flow, product and contact-card forms: the account's Flows offered by
name and its catalog's product kinds only when a catalog is connected (both read from
the simulator when the pop-up opens), what each form sends, its refusals, the contacts
an agent may share, and the thread's rendering of a Flow's answer and of an order."""

import json

import pytest
from django.urls import reverse

from apps.inbox.presenters import message_view
from apps.inbox.tests.helpers import client_for
from apps.messaging.models import Direction, Message
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.models import SimulatedCatalog, SimulatedFlow
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp.assets import assets_forget

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(world, simulator):
    waba = world.number.waba_id
    SimulatedFlow.objects.create(waba_id=waba, flow_id="1234567890123456", name="Book a visit")
    SimulatedFlow.objects.create(waba_id=waba, flow_id="2234567890123456", name="Lead form", status="DRAFT")
    assets_forget(world.number)
    yield world
    assets_forget(world.number)


def get(user, conversation, name, **params):
    return client_for(user).get(reverse(f"inbox:{name}", args=[conversation.pk]), params, HTTP_HX_REQUEST="true")


def send(user, conversation, data):
    return client_for(user).post(reverse("inbox:send", args=[conversation.pk]), data, HTTP_HX_REQUEST="true")


def outbound(conversation):
    return Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND)


def test_the_flow_form_offers_the_published_flows_by_name(account):
    page = get(account.agent, account.mine, "interactive_flows").content.decode()
    assert '<option value="1234567890123456">Book a visit</option>' in page
    assert "Lead form" not in page
    assert get(account.agent, account.foreign, "interactive_flows").status_code == 404


def test_the_flow_form_says_why_the_flows_could_not_be_read_and_asks_again(account):
    inject(fail_code=10, fail_count=1)  # a permission Meta withholds
    page = get(account.agent, account.mine, "interactive_flows").content.decode()
    assert "The Flows could not be read from WhatsApp:" in page and "(10) Injected error" in page
    assert "Book a visit" in get(account.agent, account.mine, "interactive_flows").content.decode()


def test_a_flow_sent_from_the_composer(account):
    response = send(account.agent, account.mine, {
        "kind": "interactive", "itype": "flow", "ibody": "Pick a day", "iheader": "Visit", "flow_id": "1234567890123456",
        "flow_cta": "Book", "flow_action": "navigate", "flow_screen": "APPOINTMENT", "flow_data": '{"order": "42"}',
        "flow_mode": "published"})
    assert response.status_code == 200, response.content
    parameters = outbound(account.mine).get().content["action"]["parameters"]
    assert (parameters["flow_id"], parameters["flow_cta"], parameters["flow_action_payload"]) == (
        "1234567890123456", "Book", {"screen": "APPOINTMENT", "data": {"order": "42"}})
    view = message_view(outbound(account.mine).get())
    assert (view["interactive"]["body"], view["interactive"]["buttons"]) == ("Pick a day", ["Book"])


def test_a_flows_bad_data_is_named(account):
    response = send(account.agent, account.mine, {"kind": "interactive", "itype": "flow", "ibody": "Hi",
                                                  "flow_id": "1", "flow_cta": "Go", "flow_data": "{not json"})
    assert response.status_code == 422 and "The Flow&#x27;s data is not valid JSON." in response.content.decode()
    assert not outbound(account.mine).exists()


def test_product_kinds_only_where_a_catalog_is_connected(account):
    assert 'value="product"' not in get(account.agent, account.mine, "interactive_catalog").content.decode()
    SimulatedCatalog.objects.create(waba_id=account.number.waba_id, catalog_id="9876543210", name="Loja",
                                    products=[{"retailer_id": "SKU-1"}, {"retailer_id": "SKU-2"}])
    assets_forget(account.number)
    page = get(account.agent, account.mine, "interactive_catalog").content.decode()
    assert 'name="catalog_id" value="9876543210"' in page
    assert 'value="product"' in page and 'value="product_list"' in page


def test_products_sent_from_the_composer(account):
    response = send(account.agent, account.mine, {"kind": "interactive", "itype": "product", "catalog_id": "9876543210",
                                                  "product_retailer_id": "SKU-1", "ibody": "Back in stock"})
    assert response.status_code == 200, response.content
    response = send(account.agent, account.mine, {
        "kind": "interactive", "itype": "product_list", "catalog_id": "9876543210", "iheader": "Picks",
        "ibody": "For you", "psection_title": ["Shoes", "Socks"], "psection_items": ["SKU-1\nSKU-2", "SKU-3, SKU-4"]})
    assert response.status_code == 200, response.content
    single, listed = outbound(account.mine).order_by("pk")
    assert single.content["action"] == {"catalog_id": "9876543210", "product_retailer_id": "SKU-1"}
    assert listed.content["action"]["sections"] == [
        {"title": "Shoes", "product_items": [{"product_retailer_id": "SKU-1"}, {"product_retailer_id": "SKU-2"}]},
        {"title": "Socks", "product_items": [{"product_retailer_id": "SKU-3"}, {"product_retailer_id": "SKU-4"}]}]
    assert message_view(single)["interactive"]["products"] == ["SKU-1"]
    assert [r["title"] for r in message_view(listed)["interactive"]["sections"][1]["rows"]] == ["SKU-3", "SKU-4"]
    response = send(account.agent, account.mine, {"kind": "interactive", "itype": "product_list",
                                                  "catalog_id": "9876543210", "ibody": "No header",
                                                  "psection_title": [""], "psection_items": ["SKU-1"]})
    assert response.status_code == 422 and "A product list needs a text header." in response.content.decode()


def test_a_typed_contact_card_is_sent(world):
    response = send(world.agent, world.mine, {"kind": "contacts", "card_first_name": "Barbara",
                                              "card_last_name": "Johnson", "card_phone": "+16505559999",
                                              "card_email": "b@luckyshrub.example", "card_company": "Lucky Shrub",
                                              "card_url": "https://luckyshrub.example"})
    assert response.status_code == 200, response.content
    message = outbound(world.mine).get()
    assert message.content == {"contacts": [{
        "name": {"formatted_name": "Barbara Johnson", "first_name": "Barbara", "last_name": "Johnson"},
        "phones": [{"phone": "+16505559999", "type": "CELL"}], "emails": [{"email": "b@luckyshrub.example", "type": "WORK"}],
        "urls": [{"url": "https://luckyshrub.example", "type": "WORK"}], "org": {"company": "Lucky Shrub"}}]}
    assert message_view(message)["cards"][0]["name"] == "Barbara Johnson"


def test_a_contact_of_the_organisation_is_shared_and_no_other(world):
    page = get(world.agent, world.mine, "contact_search", q="Carol").content.decode()
    contact = world.unassigned.contact
    assert f'value="{contact.pk}"' in page and "Carol Unassigned" in page
    assert "Foreignperson" not in get(world.agent, world.mine, "contact_search", q="Zebulon").content.decode()
    response = send(world.agent, world.mine, {"kind": "contacts", "share_contact": contact.pk})
    assert response.status_code == 200, response.content
    card = outbound(world.mine).get().content["contacts"][0]
    assert card["name"] == {"formatted_name": "Carol Unassigned", "first_name": "Carol", "last_name": "Unassigned"}
    assert card["phones"][0]["phone"] == "+" + contact.wa_id.lstrip("+")
    response = send(world.agent, world.mine, {"kind": "contacts", "share_contact": world.foreign.contact.pk})
    assert response.status_code == 422 and "That contact is not one you may share." in response.content.decode()
    response = send(world.agent, world.mine, {"kind": "contacts"})
    assert response.status_code == 422 and "the contact&#x27;s name, or pick a contact" in response.content.decode()


def test_a_flow_answer_shows_as_a_form_in_the_thread(world):
    answer = {"flow_token": "T", "screen_0_First_name_0": "Maria", "screen_0_Services_1": ["Haircut", "Colour"]}
    message = MessageFactory(conversation=world.mine, type="interactive", content={
        "type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response": answer,
                                           "response_json": json.dumps(answer)}})
    page = client_for(world.agent).get(reverse("inbox:message", args=[message.pk])).content.decode()
    assert "<dt>First name</dt><dd>Maria</dd>" in page and "<dt>Services</dt><dd>Haircut, Colour</dd>" in page
    assert "flow_token" not in page and "screen_0" not in page


def test_an_order_shows_its_items_and_total(world):
    message = MessageFactory(conversation=world.mine, type="order", text="Quero estes", content={
        "catalog_id": "9876543210", "text": "Quero estes", "product_items": [
            {"product_retailer_id": "SKU-1", "quantity": "2", "item_price": "49.90", "currency": "BRL"},
            {"product_retailer_id": "SKU-2", "quantity": "1", "item_price": "19.90", "currency": "BRL"}]})
    page = client_for(world.agent).get(reverse("inbox:message", args=[message.pk])).content.decode()
    assert "<td>SKU-1</td><td>49.90 BRL</td><td>99.80 BRL</td>" in page.replace("\n", "")
    assert "<td data-order-total>119.70 BRL</td>" in page
