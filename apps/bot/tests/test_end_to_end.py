"""End to end: a signed webhook with a customer's message → the bot's reply reaches
the simulated WhatsApp (the simulator over HTTP), through every real layer."""

import pytest

from apps.bot.models import BotRun
from apps.bot.tests.factories import BotSettingsFactory
from apps.messaging.models import Message
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.secrets import clear_secrets_cache
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import post_webhook, text_payload

pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_webhook_message_gets_a_bot_reply_at_the_simulator(simulator, ai, client):
    clear_secrets_cache()
    number = WhatsAppNumberFactory(phone_number_id="106540352242922", app_secret="test-app-secret")
    BotSettingsFactory(organization=number.organization, welcome_message="")
    ai.reply("Olá! Abrimos às 7h.")
    response = post_webhook(client, text_payload(phone_number_id=number.phone_number_id, body="Que horas abrem?",
                                                 from_="5511987650001"))
    assert response.status_code == 200
    inbound = Message.objects.get(direction="in")
    assert BotRun.objects.get(message=inbound).status == "replied"
    reply = Message.objects.get(direction="out")
    assert (reply.author_type, reply.status) == ("bot", "sent")
    seen = SimulatedMessage.objects.get(wamid=reply.wamid)
    assert (seen.customer, seen.direction, seen.payload["text"]["body"]) == ("5511987650001", "out",
                                                                            "Olá! Abrimos às 7h.")
    assert ai.chat_requests()[0]["messages"][-1] == {"role": "user", "content": "Que horas abrem?"}
    # Meta retries the same delivery: nothing twice.
    post_webhook(client, text_payload(phone_number_id=number.phone_number_id, body="Que horas abrem?",
                                      from_="5511987650001", wamid=inbound.wamid))
    assert Message.objects.filter(direction="out").count() == 1
    assert len(ai.chat_requests()) == 1
    clear_secrets_cache()
