"""Agent assist over REST, against the local OpenAI-compatible server."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.tokens import token_issue
from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.bot.models import BotUsage
from apps.bot.tests.factories import BotSettingsFactory
from apps.bot import knowledge
from apps.bot.tests.factories import KnowledgeFAQFactory
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def suggest(client, conversation):
    return client.post(f"/api/v1/conversations/{conversation.pk}/assist/suggest/")


def summary(client, conversation):
    return client.post(f"/api/v1/conversations/{conversation.pk}/assist/summary/")


def test_suggest_a_reply_with_a_token(world, ai):
    BotSettingsFactory(organization=world.org, enabled=False)  # assist works with the bot off
    knowledge.faq_index(faq=KnowledgeFAQFactory(organization=world.org, question="Where is my parcel?",
                                                answer="Parcels are tracked at example.test/track."))
    ai.reply("Your parcel can be tracked at example.test/track.")
    _, key = token_issue(user=world.agent, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = suggest(client, world.mine)
    assert response.status_code == 200
    assert response.json() == {"text": "Your parcel can be tracked at example.test/track."}
    [request] = ai.chat_requests()
    assert "tools" not in request
    assert request["messages"][-1] == {"role": "user", "content": "where is my parcel"}
    assert "Parcels are tracked at example.test/track." in request["messages"][0]["content"]
    assert "write the next reply" in request["messages"][0]["content"]
    usage = BotUsage.objects.get(organization=world.org)
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens, usage.failures) == (1, 120, 30, 0)


def test_summary_with_a_session(world, ai):
    MessageFactory(conversation=world.unassigned, text="I want to change my address")
    ai.reply("- Carol wants to change her address.")
    client = Client()
    client.force_login(world.supervisor)
    response = summary(client, world.unassigned)
    assert response.status_code == 200
    assert response.json() == {"summary": "- Carol wants to change her address."}
    [request] = ai.chat_requests()
    assert request["messages"][0]["content"].startswith("Summarise this WhatsApp conversation")
    assert request["messages"][1] == {"role": "user", "content": "I want to change my address"}


def test_503_when_not_configured(world, ai, settings):
    settings.OPENAI_API_KEY = None
    for call in (suggest, summary):
        response = call(api_as(world.agent), world.mine)
        assert response.status_code == 503
        assert "OPENAI_API_KEY" in response.json()["detail"]
    assert ai.requests == []


def test_502_when_the_model_fails(world, ai):
    ai.error(500)
    ai.error(500)
    response = suggest(api_as(world.agent), world.mine)
    assert response.status_code == 502
    assert response.json() == {"detail": "The AI service failed: The AI service failed (500)."}
    ai.error(401, "bad key")
    response = summary(api_as(world.agent), world.mine)
    assert response.status_code == 502
    assert "refused the request (401)" in response.json()["detail"]


def test_no_assist_on_conversations_one_may_not_see(world, ai):
    for user, conversation in ((world.agent, world.colleagues), (world.agent, world.foreign),
                               (world.foreign_admin, world.mine)):
        assert suggest(api_as(user), conversation).status_code == 404
        assert summary(api_as(user), conversation).status_code == 404
    assert APIClient().post(f"/api/v1/conversations/{world.mine.pk}/assist/suggest/").status_code in (401, 403)
    assert ai.requests == []


def bot_switch(client, conversation, active):
    return client.post(f"/api/v1/conversations/{conversation.pk}/bot/", {"bot_active": active}, format="json")


@pytest.mark.parametrize("bot_settings, reason", [
    (None, "The bot is off in the bot settings"),
    ({"enabled": False, "api_key": "sk-organisation"}, "The bot is off in the bot settings"),
    ({"enabled": True, "api_key": ""}, "OPENAI_API_KEY"),
])
def test_the_bot_is_not_switched_on_where_it_could_not_answer(world, settings, bot_settings, reason):
    """The customer would get nothing: refused with the reason, and nothing changes."""
    from apps.conversations.models import AuditLogEntry

    settings.OPENAI_API_KEY = ""
    if bot_settings is not None:
        BotSettingsFactory(organization=world.org, **bot_settings)
    response = bot_switch(api_as(world.agent), world.mine, True)
    assert response.status_code == 400
    assert reason in " ".join(response.json()["detail"])
    world.mine.refresh_from_db()
    assert world.mine.bot_active is False
    assert not AuditLogEntry.objects.filter(conversation=world.mine).exists()


def test_the_bot_is_switched_on_where_it_answers_and_off_anywhere(world, settings):
    settings.OPENAI_API_KEY = ""
    bot = BotSettingsFactory(organization=world.org, enabled=True, api_key="sk-organisation")
    assert bot_switch(api_as(world.agent), world.mine, True).json()["bot_active"] is True
    bot.delete()
    response = bot_switch(api_as(world.agent), world.mine, False)  # off: always allowed
    assert response.status_code == 200 and response.json()["bot_active"] is False
    # With OPENAI_API_KEY, the organisation needs no key of its own.
    settings.OPENAI_API_KEY = "sk-environment"
    BotSettingsFactory(organization=world.org, enabled=True)
    assert bot_switch(api_as(world.agent), world.mine, True).json()["bot_active"] is True


def test_the_bot_switch_of_a_conversation_the_user_may_not_act_on_is_refused_as_such(world, settings):
    settings.OPENAI_API_KEY = ""
    assert bot_switch(api_as(world.agent), world.colleagues, True).status_code in (403, 404)
    assert bot_switch(api_as(world.foreign_user), world.mine, True).status_code == 404
