"""The customer phone answers a Flow (its form, as Meta's nfm_reply) and orders the
products of a product-list message (Meta's order); both reach the inbox through the
signed webhook and the thread shows the form's label/value rows and the order's total."""

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.inbox.presenters import message_view
from apps.messaging.models import Message
from apps.simulator import webhooks
from apps.simulator.models import SimulatedCatalog, SimulatedMessage
from apps.whatsapp.secrets import clear_secrets_cache
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import post_webhook

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511988887777"
FLOW = {"interactive": {"type": "flow", "body": {"text": "Book a visit"}, "action": {"name": "flow", "parameters": {
    "flow_message_version": "3", "flow_token": "FT-1", "flow_id": "1234567890123456", "flow_cta": "Book"}}}}
PRODUCTS = {"interactive": {"type": "product_list", "header": {"type": "text", "text": "Picks"},
                            "body": {"text": "For you"}, "action": {"catalog_id": "9876543210", "sections": [
                                {"title": "Shoes", "product_items": [{"product_retailer_id": "SKU-1"},
                                                                     {"product_retailer_id": "SKU-2"}]}]}}}


@pytest.fixture
def sent(monkeypatch):
    bodies = []
    monkeypatch.setattr(webhooks, "send_later", lambda batch, *, secret, delay, url=None: bodies.extend(batch))
    return bodies


@pytest.fixture
def number():
    clear_secrets_cache()
    number = WhatsAppNumberFactory(app_secret="home-secret")
    contact = ContactFactory(organization=number.organization, wa_id=CUSTOMER)
    ConversationFactory(organization=number.organization, number=number, contact=contact)
    SimulatedCatalog.objects.create(waba_id=number.waba_id, catalog_id="9876543210", name="Loja", products=[
        {"retailer_id": "SKU-1", "price": "49.90", "currency": "BRL"},
        {"retailer_id": "SKU-2", "price": "19.90", "currency": "BRL"}])
    for wamid, payload in (("wamid.flow", FLOW), ("wamid.products", PRODUCTS)):
        SimulatedMessage.objects.create(phone_number_id=number.phone_number_id, customer=CUSTOMER, direction="out",
                                        wamid=wamid, type="interactive", status="sent", payload=payload)
    yield number
    clear_secrets_cache()


def test_the_phone_answers_a_flow_and_orders_and_the_thread_shows_both(number, sent):
    phone = Client()
    phone.force_login(AdminFactory(organization=number.organization))
    page = phone.get(f"/simulator/phone/{number.pk}/{CUSTOMER}/thread/").content.decode()
    assert "data-sim-flow" in page and "data-sim-order" in page
    url = f"/simulator/phone/{number.pk}/send/"
    assert phone.post(url, {"phone": CUSTOMER, "type": "flow", "target": "wamid.flow",
                            "body": "First name: Maria\nscreen_0_Preferred_day_1: Tuesday"}).status_code == 302
    assert phone.post(url, {"phone": CUSTOMER, "type": "order", "target": "wamid.products",
                            "quantity": "2"}).status_code == 302
    assert phone.post(url, {"phone": CUSTOMER, "type": "order", "target": "wamid.flow"}).status_code == 400

    answer, order = (body["entry"][0]["changes"][0]["value"]["messages"][0] for body in sent)
    assert answer["interactive"]["type"] == "nfm_reply" and answer["context"]["id"] == "wamid.flow"
    assert order["order"]["product_items"][0] == {"product_retailer_id": "SKU-1", "quantity": "2",
                                                  "item_price": "49.90", "currency": "BRL"}
    inbox = Client()
    for body in sent:
        assert post_webhook(inbox, body, secret="home-secret").status_code == 200
    form = Message.objects.get(direction="in", type="interactive")
    assert message_view(form)["interactive"]["fields"] == [("First name", "Maria"), ("Preferred day", "Tuesday")]
    ordered = message_view(Message.objects.get(direction="in", type="order"))["order"]
    assert [str(item["line_total"]) for item in ordered["items"]] == ["99.80", "39.80"]
    assert [(currency, str(total)) for currency, total in ordered["totals"]] == [("BRL", "139.60")]
