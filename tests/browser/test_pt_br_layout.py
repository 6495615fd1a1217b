"""The inbox in Brazilian Portuguese at 390×844 and 1440×900: the Send button on one
line, the language selector showing its whole choice, labels capitalised, and one
conversation with nobody assigned called so in the singular."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms

# Does the element's text take one line (its height no more than one line's)?
ONE_LINE = """(el) => {
  const style = getComputedStyle(el);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.3;
  const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom)
    + parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
  return el.getBoundingClientRect().height - padding <= line * 1.5;
}"""

# Is the selected option's text narrower than the room the select gives it?
SELECT_FITS = """(select) => {
  const style = getComputedStyle(select);
  const canvas = document.createElement("canvas").getContext("2d");
  canvas.font = style.font;
  const text = canvas.measureText(select.options[select.selectedIndex].text).width;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
  return {text: Math.ceil(text), room: Math.floor(room)};
}"""


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1440, "height": 900}],
                         ids=["phone", "desktop"])
def test_pt_br_inbox_fits_its_words(inbox_servers, new_page, viewport):
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="caio")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, contact__name="Maria")
    MessageFactory(conversation=conversation, text="Olá!")
    page = new_page(viewport=viewport)
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.context.add_cookies([{"name": "django_language", "value": "pt-br", "url": inbox_servers.url}])
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")

    send = page.locator("[data-composer-send]")
    expect(send).to_have_text("Enviar")
    assert send.evaluate(ONE_LINE), "the Send button's text wraps"
    # Send stays beside the message, not pushed to a row of its own under the tools.
    field = page.locator("#composer-body").bounding_box()
    button = send.bounding_box()
    assert field["y"] <= button["y"] + button["height"] / 2 <= field["y"] + field["height"], (field, button)
    assert button["x"] >= field["x"] + field["width"] - 1

    if viewport["width"] > 700:  # on a phone the language selector lives on the sign-in page
        language = page.locator("#language-select")
        fits = language.evaluate(SELECT_FITS)
        assert fits["text"] <= fits["room"], f"the language selector cuts its choice: {fits}"
        row = page.locator(f"#row-{conversation.pk}")
        expect(row.locator(".assignee")).to_have_text("Não atribuída")
        expect(page.locator(".views a").nth(1)).to_contain_text("Não atribuídas")
    else:
        page.get_by_role("button", name="Detalhes", exact=True).click()

    # The contact panel's labels begin with a capital letter.
    facts = page.locator("#panel-contact-body .panel-facts dt")
    expect(facts.first).to_be_visible(timeout=TIMEOUT)
    for label in facts.all_text_contents():
        assert label[:1].isupper(), f"label in lower case: {label!r}"
