"""The composer's Flow, product and contact-card forms in a browser: the Flows offered
by name and the product kinds only with a catalog (both read from the simulator when
the pop-up opens), each form's fields shown by kind, its preview, and what it sends
reaching the simulator."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.models import SimulatedCatalog, SimulatedFlow, SimulatedMessage
from apps.whatsapp.assets import assets_forget
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


@pytest.fixture
def opened(inbox_servers, new_page):
    """An agent's conversation page with an open window; the account has two published
    Flows, and (when `catalog` is called) a catalog."""
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="noa")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    MessageFactory(conversation=conversation, text="Can I book a visit?")
    SimulatedFlow.objects.create(waba_id=number.waba_id, flow_id="1234567890123456", name="Book a visit")
    SimulatedFlow.objects.create(waba_id=number.waba_id, flow_id="2234567890123456", name="Answer a survey")
    assets_forget(number)

    def open_page(*, with_catalog=False):
        if with_catalog:
            SimulatedCatalog.objects.create(waba_id=number.waba_id, catalog_id="9876543210", name="Loja",
                                            products=[{"retailer_id": f"SKU-{i}"} for i in range(1, 4)])
        page = new_page()
        sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
        page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
        return page

    yield conversation, open_page
    assets_forget(number)


def sent_to_simulator(conversation, kind="interactive"):
    message = Message.objects.get(conversation=conversation, type=kind)
    for _ in range(200):
        message.refresh_from_db()
        if message.wamid:
            break
        import time

        time.sleep(0.1)
    return SimulatedMessage.objects.get(wamid=message.wamid).payload


def test_a_flow_from_the_composer(opened):
    conversation, open_page = opened
    page = open_page()
    page.get_by_role("button", name="Buttons / list").click()
    form = page.locator("#composer-interactive")
    expect(form.get_by_label("Product", exact=True)).to_have_count(0)  # no catalog: no product kinds
    form.get_by_label("Flow (form)").check()
    flow = form.locator("select[name=flow_id]")
    expect(flow.locator("option")).to_have_text(["Answer a survey", "Book a visit"], timeout=TIMEOUT)
    flow.select_option(label="Book a visit")
    form.get_by_label("Body").fill("Pick a day that suits you")
    form.locator("[data-composer-ikind=flow]").get_by_label("Button text").fill("Book")
    expect(form.locator("[data-composer-ibuttons]")).to_be_hidden()
    preview = form.locator("[data-interactive-preview]")
    expect(preview.locator(".i-buttons li")).to_have_text(["Book"], timeout=TIMEOUT)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        form.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 200
    body = sent_to_simulator(conversation)["interactive"]
    assert body["type"] == "flow"
    assert (body["action"]["parameters"]["flow_id"], body["action"]["parameters"]["flow_cta"]) == (
        "1234567890123456", "Book")
    expect(page.locator(".message.type-interactive .i-flow li")).to_have_text(["Book"], timeout=TIMEOUT)


def test_a_product_list_from_the_composer_where_a_catalog_is_connected(opened):
    conversation, open_page = opened
    page = open_page(with_catalog=True)
    page.get_by_role("button", name="Buttons / list").click()
    form = page.locator("#composer-interactive")
    form.get_by_label("Product list").check()
    form.get_by_label("Header (optional)").fill("Our picks")
    form.get_by_label("Body").fill("For your visit")
    products = form.locator("[data-composer-ikind=product_list]")
    products.get_by_label("Section title").fill("Shoes")
    products.get_by_label("Products (retailer ids)").fill("SKU-1\nSKU-2")
    products.get_by_role("button", name="Add a section").click()
    products.get_by_label("Section title").nth(1).fill("Socks")
    products.get_by_label("Products (retailer ids)").nth(1).fill("SKU-3")
    preview = form.locator("[data-interactive-preview]")
    expect(preview.locator(".i-list")).to_contain_text("SKU-3", timeout=TIMEOUT)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        form.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 200
    body = sent_to_simulator(conversation)["interactive"]
    assert body["action"] == {"catalog_id": "9876543210", "sections": [
        {"title": "Shoes", "product_items": [{"product_retailer_id": "SKU-1"}, {"product_retailer_id": "SKU-2"}]},
        {"title": "Socks", "product_items": [{"product_retailer_id": "SKU-3"}]}]}


def test_a_contact_card_from_the_composer(opened):
    conversation, open_page = opened
    # A contact the agent may see: one of the team's number's conversations.
    ConversationFactory(organization=conversation.organization, number=conversation.number,
                        contact__name="Carla Souza", contact__wa_id="5511988887777")
    page = open_page()
    page.get_by_role("button", name="Contact card").click()
    form = page.locator("#composer-contacts")
    form.get_by_label("Find a contact to share").fill("Carla")
    form.get_by_label("Carla Souza").check(timeout=TIMEOUT)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        form.get_by_role("button", name="Send contact").click()
    assert answer.value.status == 200
    card = sent_to_simulator(conversation, "contacts")["contacts"][0]
    assert card["name"]["formatted_name"] == "Carla Souza"
    assert card["phones"][0]["phone"] == "+5511988887777"
    expect(page.locator(".message.type-contacts .card")).to_contain_text("Carla Souza", timeout=TIMEOUT)


def test_a_single_product_from_the_composer(opened):
    conversation, open_page = opened
    page = open_page(with_catalog=True)
    page.get_by_role("button", name="Buttons / list").click()
    form = page.locator("#composer-interactive")
    form.get_by_label("Product", exact=True).check(timeout=TIMEOUT)
    expect(form.locator("[data-composer-ikind=product_list]")).to_be_hidden()
    form.get_by_label("Product (retailer id)").fill("SKU-2")
    form.get_by_label("Body").fill("Back in stock")
    preview = form.locator("[data-interactive-preview]")
    expect(preview.locator("[data-product]")).to_have_text("SKU-2", timeout=TIMEOUT)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        form.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 200
    body = sent_to_simulator(conversation)["interactive"]
    assert (body["type"], body["action"]) == ("product", {"catalog_id": "9876543210", "product_retailer_id": "SKU-2"})
