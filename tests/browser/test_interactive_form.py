"""The Buttons / List form: each radio button sits next to its label, and a preview
shows the message as the customer will see it while it is written, on a desktop and
on a phone; what is previewed is what is sent."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms

# For each radio button: the gap between it and its label's text, and whether both
# sit on one line.
RADIOS = """(form) => Array.from(form.querySelectorAll("input[type=radio]")).map((radio) => {
  const range = document.createRange();
  const label = radio.closest("label");
  range.setStartAfter(radio);
  range.setEndAfter(label.lastChild);
  const text = Array.from(range.getClientRects()).find((r) => r.width > 0);
  const box = radio.getBoundingClientRect();
  return {value: radio.value, gap: Math.round(text.left - box.right),
          same_line: Math.abs((text.top + text.bottom) / 2 - (box.top + box.bottom) / 2) < 6};
})"""


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_buttons_and_list_form_has_radios_by_their_labels_and_a_live_preview(inbox_servers, new_page, viewport):
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="noa")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    MessageFactory(conversation=conversation, text="When can you deliver?")
    page = new_page(viewport=viewport)
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")

    page.get_by_role("button", name="Buttons / list").click()
    form = page.locator("#composer-interactive")
    expect(form).to_be_visible()
    for radio in form.evaluate(RADIOS):
        assert 0 <= radio["gap"] <= 12 and radio["same_line"], radio
    preview = form.locator("[data-interactive-preview]")
    expect(preview).to_contain_text("Type the message to see it here.")

    form.get_by_label("Header (optional)").fill("Delivery")
    form.get_by_label("Body").fill("When shall we come?")
    form.get_by_label("Button 1").fill("Morning")
    form.get_by_label("Button 2").fill("Afternoon")
    expect(preview.locator(".i-header")).to_have_text("Delivery", timeout=TIMEOUT)
    expect(preview).to_contain_text("When shall we come?")
    expect(preview.locator(".i-buttons li")).to_have_text(["Morning", "Afternoon"], timeout=TIMEOUT)
    # A mistake shows before sending.
    form.get_by_label("Button 3").fill("Morning")
    expect(form.locator(".composer-warning")).to_contain_text("Button titles must be unique.", timeout=TIMEOUT)
    form.get_by_label("Button 3").fill("")
    expect(form.locator(".composer-warning")).to_have_count(0, timeout=TIMEOUT)

    # The list: its button and rows.
    form.get_by_label("List", exact=True).check()
    form.get_by_label("List button text").fill("Slots")
    form.get_by_label("Row title").fill("9:00")
    form.get_by_label("Description").fill("Before lunch")
    expect(preview.locator(".i-list summary")).to_contain_text("Slots", timeout=TIMEOUT)
    expect(preview.locator(".i-list")).to_contain_text("9:00")
    expect(preview.locator(".i-list")).to_contain_text("Before lunch")
    expect(preview.locator(".i-buttons")).to_have_count(0)
    # The preview is in sight next to (or, on a phone, under) the fields.
    expect(preview).to_be_in_viewport()

    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        form.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 200
    sent = Message.objects.get(conversation=conversation, type="interactive")
    assert sent.content["action"]["button"] == "Slots"
    assert sent.content["action"]["sections"][0]["rows"][0] == {"id": "r1", "title": "9:00",
                                                                 "description": "Before lunch"}
    assert sent.content["header"] == {"type": "text", "text": "Delivery"}
