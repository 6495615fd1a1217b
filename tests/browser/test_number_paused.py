"""A number whose sending Meta refuses as a whole (here a policy block, 368): the agent
sees the composer's banner appear live with the reason while the message waits, and
disappear when the number resumes, the message then going out."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Direction, Message, Status
from apps.messaging.sending import number_sending_resume
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.testing import inject
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


def test_the_paused_banner_follows_the_number_live(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    # No read receipt on opening the conversation: its call to the simulator could take
    # the one injected failure meant for the message (the receipt's task runs apart).
    org.mark_read_on_open = False
    org.save(update_fields=["mark_read_on_open"])
    agent = UserFactory(organization=org, username="caio")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Lia")
    MessageFactory(conversation=conversation, text="Hello?")
    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    banner = page.locator("[data-composer-paused]")
    expect(banner).to_be_hidden()

    inject(fail_code=368, fail_count=1)
    body = page.get_by_label("Message", exact=True)
    body.fill("We are looking into it")
    body.press("Enter")
    expect(banner).to_be_visible(timeout=TIMEOUT)
    expect(banner).to_contain_text("Sending from this number is paused.")
    expect(banner).to_contain_text("(368) Temporarily blocked for policy violations")
    sent = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND)
    assert sent.status == Status.PENDING

    number_sending_resume(number_id=number.pk, how="by an admin")
    expect(banner).to_be_hidden(timeout=TIMEOUT)
    # The resume's event can reach the page before the message's send task has run.
    for _attempt in range(TIMEOUT // 100):
        sent.refresh_from_db()
        if sent.wamid:
            break
        page.wait_for_timeout(100)
    assert sent.status in (Status.SENT, Status.DELIVERED, Status.READ) and sent.wamid


def test_a_pause_of_marketing_templates_says_so_live(inbox_servers, new_page):
    from apps.message_templates.models import MessageTemplate
    from apps.message_templates.tests.factories import MessageTemplateFactory
    from apps.messaging.services.send import message_send

    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    org.mark_read_on_open = False
    org.save(update_fields=["mark_read_on_open"])
    agent = UserFactory(organization=org, username="caio")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Lia")
    MessageFactory(conversation=conversation, text="Hello?")
    offer = MessageTemplateFactory(organization=org, waba_id=number.waba_id,
                                   category=MessageTemplate.Category.MARKETING)
    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    banner = page.locator("[data-composer-paused]")
    expect(banner).to_be_hidden()

    inject(fail_code=131063, fail_count=1)
    message_send(conversation=conversation, kind="template",
                 payload={"name": offer.name, "language": offer.language, "body": ["Lia", "7"]})
    expect(banner).to_be_visible(timeout=TIMEOUT)
    expect(banner).to_contain_text("Marketing templates from this number are paused")
    expect(banner.locator("[data-composer-paused-all]")).to_be_hidden()
    expect(banner).to_contain_text("(131063)")
