"""axe-core (axe-playwright-python) on every screen a person uses: the sign-in page, the
inbox list, a thread, the composer's pop-ups (templates, buttons/list, a Flow, a contact card, emoji, the
reaction picker), the reports and the simulator's customer phone, on a desktop
(1440×900) and a phone (390×844). No serious or critical violation is allowed.

Each screen is also saved as a screenshot under tmp/browser/screens/ (kept by CI)."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from apps.accounts.tests.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
    SupervisorFactory,
    TeamFactory,
    UserFactory,
)
from apps.conversations.tests.factories import (
    CannedResponseFactory,
    ConversationFactory,
    LabelFactory,
)
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms
SCREENS = ARTIFACTS / "screens"
VIEWPORTS = {
    "desktop": {"width": 1440, "height": 900},
    "phone": {"width": 390, "height": 844},
}
BLOCKING = {"serious", "critical"}

_axe = Axe()


def audit(page, screen: str, viewport: str, found: dict) -> None:
    """Run axe on what the page shows now, keep its serious and critical violations
    under the screen's name, and save the screen as it looks."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    try:
        results = _axe.run(page)
    except PlaywrightError as error:
        # The inbox reloads itself once when its first live catch-up finds no replay
        # log yet (a fresh Redis): the same page, loaded again; audit that one.
        if "Execution context was destroyed" not in str(error):
            raise
        page.wait_for_load_state("load")
        results = _axe.run(page)
    page.screenshot(path=str(SCREENS / f"{screen}-{viewport}.png"))
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [node["target"] for node in violation["nodes"]][:5]
            found.setdefault(screen, []).append(
                f"{violation['id']} ({violation['impact']}): "
                f"{violation['help']} {targets}"
            )


def signed_in(page, base, user):
    sign_in(page, base, user.username, DEFAULT_PASSWORD)
    page.wait_for_url(lambda url: "/accounts/login/" not in url, timeout=TIMEOUT)


def report(found: dict) -> str:
    return "\n".join(
        f"{screen}:\n  " + "\n  ".join(items) for screen, items in found.items()
    )


@pytest.fixture
def inbox(db):
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(
        organization=org, username="ana", first_name="Ana", last_name="Souza"
    )
    supervisor = SupervisorFactory(organization=org, username="sofia")
    admin = AdminFactory(organization=org, username="alice")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    label = LabelFactory(organization=org, name="VIP")
    conversation = ConversationFactory(
        organization=org, number=number, assignee=agent, contact__name="Maria Silva"
    )
    conversation.labels.add(label)
    ConversationFactory(organization=org, number=number, contact__name="João")
    customer = MessageFactory(conversation=conversation, text="Where is my order?")
    OutboundMessageFactory(conversation=conversation, text="It left this morning.")
    MessageTemplateFactory(organization=org, waba_id=number.waba_id)
    CannedResponseFactory(organization=org)
    return {
        "number": number,
        "agent": agent,
        "supervisor": supervisor,
        "admin": admin,
        "conversation": conversation,
        "customer": customer,
    }


def open_reaction_picker(page, message):
    bubble = page.locator(f'li.message[data-message-id="{message.pk}"]')
    bubble.hover()
    bubble.locator('[data-action="react"]').click(timeout=TIMEOUT)
    expect(page.locator(".composer-react-picker")).to_be_visible()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_screen_passes_axe_without_serious_violations(
    inbox_servers, new_page, inbox, viewport
):
    base = inbox_servers.url
    size = VIEWPORTS[viewport]
    found: dict = {}

    page = new_page(viewport=size)
    page.goto(f"{base}/accounts/login/")
    audit(page, "login", viewport, found)

    signed_in(page, base, inbox["agent"])
    page.goto(f"{base}/inbox/")
    expect(page.locator(f"#row-{inbox['conversation'].pk}")).to_be_visible(
        timeout=TIMEOUT
    )
    audit(page, "inbox-list", viewport, found)

    page.goto(f"{base}/inbox/c/{inbox['conversation'].pk}/")
    expect(
        page.locator(f'li.message[data-message-id="{inbox["customer"].pk}"]')
    ).to_be_visible(timeout=TIMEOUT)
    audit(page, "thread", viewport, found)

    page.get_by_role("button", name="Template").click()
    expect(page.locator("#composer-templates")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#composer-template-list li").first).to_be_visible(
        timeout=TIMEOUT
    )
    audit(page, "composer-templates", viewport, found)
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Buttons / list").click()
    expect(page.locator("#composer-interactive")).to_be_visible(timeout=TIMEOUT)
    audit(page, "composer-buttons-list", viewport, found)
    page.locator("#composer-interactive").get_by_label("Flow (form)").check()
    expect(page.locator("[data-composer-ikind=flow] .hint").first).not_to_have_text("Loading…", timeout=TIMEOUT)
    audit(page, "composer-flow", viewport, found)
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Contact card").click()
    expect(page.locator("#composer-contacts")).to_be_visible(timeout=TIMEOUT)
    audit(page, "composer-contact-card", viewport, found)
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Emoji").click()
    expect(page.locator("#composer-emoji")).to_be_visible(timeout=TIMEOUT)
    audit(page, "composer-emoji", viewport, found)
    page.keyboard.press("Escape")

    open_reaction_picker(page, inbox["customer"])
    audit(page, "composer-reactions", viewport, found)
    page.keyboard.press("Escape")

    reports = new_page(viewport=size)
    signed_in(reports, base, inbox["supervisor"])
    reports.goto(f"{base}/reports/")
    expect(reports.locator("main")).to_be_visible(timeout=TIMEOUT)
    audit(reports, "reports", viewport, found)

    phone = new_page(viewport=size)
    signed_in(phone, base, inbox["admin"])
    contact = inbox["conversation"].contact
    phone.goto(f"{base}/simulator/?number={inbox['number'].pk}&phone={contact.wa_id}")
    expect(phone.locator(".sim-phone")).to_be_visible(timeout=TIMEOUT)
    expect(phone.locator("body")).to_be_visible(timeout=TIMEOUT)
    audit(phone, "simulator", viewport, found)

    assert not found, "axe found serious or critical violations:\n" + report(found)
