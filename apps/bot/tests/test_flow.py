"""The bot answering customers, end to end: the hook, the task (run when sent), the real
openai client over HTTP to the local OpenAI-compatible server, and the replies sent
through the send use-case to the simulator."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import TeamFactory, UserFactory
from apps.bot.models import BotRun, BotUsage
from apps.bot.tests.conftest import customer_says
from apps.bot.tests.factories import BotSettingsFactory, KnowledgeFAQFactory
from apps.bot import knowledge
from apps.conversations.models import AuditLogEntry, Note
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message, Status
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(simulator, ai):
    conversation = ConversationFactory(contact__profile_name="Maria Souza")
    conversation.organization.name = "Padaria Boa"
    conversation.organization.save()
    return conversation


@pytest.fixture
def bot(conversation):
    return BotSettingsFactory(organization=conversation.organization, handoff_message="A person will help you.",
                              fallback_message="Sorry, something failed. A person will help you.")


def bot_messages(conversation):
    return list(Message.objects.filter(conversation=conversation, author_type="bot").order_by("id"))


def delivered(message) -> dict:
    message.refresh_from_db()
    assert message.status == Status.SENT, (message.error_code, message.error_message)
    return SimulatedMessage.objects.get(wamid=message.wamid).payload


def test_a_reply_reaches_the_customer(conversation, bot, ai, published):
    ai.reply("We open at 7 am.")
    inbound = customer_says(conversation, "When do you open?")
    [reply] = bot_messages(conversation)
    assert delivered(reply)["text"]["body"] == "We open at 7 am."
    assert (reply.author_type, reply.author_id, reply.direction) == ("bot", None, "out")
    run = BotRun.objects.get(message=inbound)
    assert (run.status, run.reply_ids, run.prompt_tokens, run.completion_tokens) == ("replied", [reply.pk], 120, 30)
    conversation.refresh_from_db()
    assert conversation.bot_active is True
    assert AuditLogEntry.objects.filter(conversation=conversation, action="bot.activated").count() == 1
    [request] = ai.chat_requests()
    assert request["model"] == "test-model"
    assert request["messages"][-1] == {"role": "user", "content": "When do you open?"}
    system = request["messages"][0]["content"]
    assert "You are the assistant of a bakery." in system
    assert "Customer's name: Maria Souza." in system
    assert "Business: Padaria Boa." in system
    assert {t["function"]["name"] for t in request["tools"]} == {"handoff", "offer_choices"}
    assert ai.requests[0]["authorization"] == "Bearer sk-test-key"
    assert "message.created" in [e[0] for e in published]


def test_context_has_the_last_messages_with_authors_and_media(conversation, bot, ai):
    agent = UserFactory(organization=conversation.organization, display_name="Ana")
    from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory

    start = timezone.now() - timedelta(minutes=10)
    MessageFactory(conversation=conversation, text="Hi", timestamp=start)
    OutboundMessageFactory(conversation=conversation, author=agent, text="Hello, how can I help?",
                           timestamp=start + timedelta(minutes=1), status=Status.SENT)
    MessageFactory(conversation=conversation, type="image", text="my cake", content={"caption": "my cake"},
                   timestamp=start + timedelta(minutes=2))
    bot.business_hours = "mon-sun 00:00-24:00"
    bot.context_messages = 3
    bot.save()
    ai.reply("Nice cake!")
    customer_says(conversation, "Can you make this one?")
    [request] = ai.chat_requests()
    assert request["messages"][1:] == [
        {"role": "assistant", "content": "[Ana] Hello, how can I help?"},
        {"role": "user", "content": "[photo: my cake]"},
        {"role": "user", "content": "Can you make this one?"},
    ]
    assert "Business hours: Monday 00:00-23:59" in request["messages"][0]["content"]
    assert "(now open)" in request["messages"][0]["content"]


def test_a_tool_call_hands_off_to_the_intent_team(conversation, bot, ai, published):
    team = TeamFactory(organization=conversation.organization)
    bot.create_quote_team = team
    bot.save()
    ai.tool("handoff", {"reason": "wants a quote for 200 cakes", "intent": "create_quote",
                        "summary": "Maria wants 200 cakes for a wedding on June 3."})
    inbound = customer_says(conversation, "I need 200 cakes for a wedding")
    conversation.refresh_from_db()
    assert (conversation.bot_active, conversation.assignee_id, conversation.team_id) == (False, None, team.pk)
    note = Note.objects.get(conversation=conversation)
    assert note.author_id is None
    assert "Maria wants 200 cakes for a wedding on June 3." in note.body
    assert "Intent: create_quote." in note.body
    entry = AuditLogEntry.objects.get(conversation=conversation, action="bot.handoff")
    assert (entry.data["reason"], entry.data["intent"], entry.data["team_id"]) == (
        "wants a quote for 200 cakes", "create_quote", team.pk)
    [told] = bot_messages(conversation)
    assert delivered(told)["text"]["body"] == "A person will help you."
    run = BotRun.objects.get(message=inbound)
    assert (run.status, run.intent) == ("handed_off", "create_quote")
    assert "note.created" in [e[0] for e in published]
    # The bot is off now: the next message gets no bot answer and no model call.
    customer_says(conversation, "Hello?")
    assert len(ai.chat_requests()) == 1
    assert len(bot_messages(conversation)) == 1


@pytest.mark.parametrize("failure", ["429", "500", "timeout"])
def test_ai_failures_send_the_fallback_and_hand_off(conversation, bot, ai, settings, failure):
    if failure == "timeout":
        settings.OPENAI_TIMEOUT = 0.5
        ai.slow()
        ai.slow()
    else:
        ai.error(int(failure))
        ai.error(int(failure))
    inbound = customer_says(conversation, "Do you deliver?")
    assert len(ai.chat_requests()) == 2  # our own retry, then the fallback
    [told] = bot_messages(conversation)
    assert delivered(told)["text"]["body"] == "Sorry, something failed. A person will help you."
    conversation.refresh_from_db()
    assert conversation.bot_active is False
    entry = AuditLogEntry.objects.get(conversation=conversation, action="bot.handoff")
    assert (entry.data["reason"], entry.data["intent"]) == ("ai_error", "talk_to_human")
    assert BotRun.objects.get(message=inbound).status == "handed_off"
    usage = BotUsage.objects.get(organization=conversation.organization)
    assert (usage.requests, usage.failures, usage.prompt_tokens) == (2, 2, 0)
    assert "ai_error" in Note.objects.get(conversation=conversation).body


def test_a_retry_that_succeeds_answers(conversation, bot, ai):
    ai.error(500)
    ai.reply("Yes, we deliver.")
    customer_says(conversation, "Do you deliver?")
    [reply] = bot_messages(conversation)
    assert delivered(reply)["text"]["body"] == "Yes, we deliver."
    usage = BotUsage.objects.get(organization=conversation.organization)
    assert (usage.requests, usage.failures, usage.prompt_tokens, usage.completion_tokens) == (2, 1, 120, 30)


@pytest.mark.parametrize("text", ["Quero falar com um ATENDENTE", "humano", "Can I talk to a human please?",
                                  "falar com atendênte!"])
def test_keywords_hand_off_without_asking_the_model(conversation, bot, ai, text):
    customer_says(conversation, text)
    assert ai.chat_requests() == []
    entry = AuditLogEntry.objects.get(conversation=conversation, action="bot.handoff")
    assert (entry.data["reason"], entry.data["intent"]) == ("keyword", "talk_to_human")
    assert [delivered(m)["text"]["body"] for m in bot_messages(conversation)] == ["A person will help you."]


def test_sensitive_topics_hand_off(conversation, bot, ai):
    bot.sensitive_topics = ["lawyer", "reembolso"]
    bot.save()
    customer_says(conversation, "Quero meu REEMBOLSO agora")
    assert ai.chat_requests() == []
    assert AuditLogEntry.objects.get(conversation=conversation, action="bot.handoff").data["reason"] == "sensitive_topic"


def test_turns_without_progress_hand_off(conversation, bot, ai):
    bot.max_turns_without_progress = 2
    bot.save()
    ai.reply("Could you tell me more?")
    customer_says(conversation, "my order number 123 did not arrive")
    ai.reply("Could you tell me more?")
    customer_says(conversation, "my order 123 did not arrive", at=timezone.now() + timedelta(seconds=1))
    runs = list(BotRun.objects.filter(conversation=conversation).order_by("id").values_list("status", "progress"))
    assert runs == [("replied", True), ("replied", False)]
    customer_says(conversation, "order 123 did not arrive!!", at=timezone.now() + timedelta(seconds=2))
    assert len(ai.chat_requests()) == 2
    assert AuditLogEntry.objects.get(conversation=conversation, action="bot.handoff").data["reason"] == "no_progress"


def test_long_replies_are_split_at_4096_characters(conversation, bot, ai):
    paragraph = ("The cake of the day is chocolate with strawberries. " * 20).strip()
    text = "\n\n".join([paragraph] * 9)  # about 9,400 characters
    ai.reply(text)
    customer_says(conversation, "Tell me everything")
    parts = [delivered(m)["text"]["body"] for m in bot_messages(conversation)]
    assert len(parts) == 3
    assert all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text


def test_choices_become_reply_buttons(conversation, bot, ai):
    ai.tool("offer_choices", {"text": "Which size?", "choices": ["Small", "Medium", "A very large cake for parties",
                                                                 "Extra"]})
    customer_says(conversation, "I want a cake")
    [message] = bot_messages(conversation)
    sent = delivered(message)["interactive"]
    assert sent["body"] == {"text": "Which size?"}
    assert [b["reply"]["title"] for b in sent["action"]["buttons"]] == ["Small", "Medium", "A very large cake fo"]


def test_welcome_message_first(conversation, bot, ai):
    bot.welcome_message = "Welcome to Padaria Boa!"
    bot.save()
    ai.reply("We have bread.")
    customer_says(conversation, "What do you sell?")
    assert [delivered(m)["text"]["body"] for m in bot_messages(conversation)] == [
        "Welcome to Padaria Boa!", "We have bread."]
    ai.reply("Yes.")
    customer_says(conversation, "Also cakes?", at=timezone.now() + timedelta(seconds=1))
    assert [m.text for m in bot_messages(conversation)][2:] == ["Yes."]


def test_knowledge_passages_reach_the_model(conversation, bot, ai):
    knowledge.faq_index(faq=KnowledgeFAQFactory(organization=conversation.organization,
                                                question="Do you deliver?", answer="We deliver within 5 km."))
    knowledge.faq_index(faq=KnowledgeFAQFactory(organization=conversation.organization,
                                                question="Opening hours", answer="From 7 am to 7 pm."))
    customer_says(conversation, "do you deliver to my street?")
    system = ai.chat_requests()[0]["messages"][0]["content"]
    assert "We deliver within 5 km." in system
    assert "From 7 am to 7 pm." not in system


# --- Never ---------------------------------------------------------------------------


def test_never_to_an_opted_out_contact(conversation, bot, ai):
    conversation.contact.opted_out = True
    conversation.contact.save()
    inbound = customer_says(conversation, "Hello")
    assert ai.chat_requests() == []
    assert bot_messages(conversation) == []
    assert (BotRun.objects.get(message=inbound).status, BotRun.objects.get(message=inbound).reason) == (
        "skipped", "opted_out")


def test_never_outside_the_window(conversation, bot, ai):
    old = timezone.now() - timedelta(hours=25)
    inbound = customer_says(conversation, "Hello", at=old)  # a late delivery of an old message
    assert ai.chat_requests() == []
    assert bot_messages(conversation) == []
    assert BotRun.objects.get(message=inbound).reason == "window_closed"


def test_never_twice_to_the_same_message(conversation, bot, ai):
    from apps.bot.services import bot_message_handle
    from apps.bot.tasks import bot_reply

    ai.reply("Hi!")
    inbound = customer_says(conversation, "Hello")
    bot_reply(inbound.pk)  # a redelivered task
    assert bot_message_handle(message_id=inbound.pk) is None
    assert len(ai.chat_requests()) == 1
    assert len(bot_messages(conversation)) == 1
    assert BotRun.objects.filter(message=inbound).count() == 1


def test_never_while_an_agent_holds_the_conversation(conversation, bot, ai):
    from apps.bot.services import bot_message_handle

    agent = UserFactory(organization=conversation.organization)
    conversation.assignee = agent
    conversation.bot_active = True
    conversation.save()
    inbound = customer_says(conversation, "Hello")
    assert not BotRun.objects.exists()  # the hook did not even enqueue
    run = bot_message_handle(message_id=inbound.pk)  # and the task refuses on its own
    assert (run.status, run.reason) == ("skipped", "assigned")
    assert ai.chat_requests() == []
    assert bot_messages(conversation) == []


def test_never_when_an_agent_turned_the_bot_off(conversation, bot, ai):
    from apps.accounts.tests.factories import SupervisorFactory
    from apps.conversations.services import conversation_set_bot

    conversation_set_bot(conversation=conversation, actor=SupervisorFactory(organization=conversation.organization),
                         active=False)
    inbound = customer_says(conversation, "Hello")
    assert ai.chat_requests() == []
    assert BotRun.objects.get(message=inbound).reason == "bot_inactive"
    conversation.refresh_from_db()
    assert conversation.bot_active is False


def test_not_when_the_bot_is_off_for_the_number(conversation, bot, ai):
    BotSettingsFactory(organization=conversation.organization, number=conversation.number, enabled=False)
    customer_says(conversation, "Hello")
    assert ai.chat_requests() == []
    assert bot_messages(conversation) == []
    assert not BotRun.objects.exists()


def test_the_number_settings_replace_the_organisation_ones(conversation, bot, ai):
    BotSettingsFactory(organization=conversation.organization, number=conversation.number, model="number-model")
    customer_says(conversation, "Hello")
    assert ai.chat_requests()[0]["model"] == "number-model"


def test_not_without_an_api_key(conversation, bot, ai, settings):
    settings.OPENAI_API_KEY = None
    inbound = customer_says(conversation, "Hello")
    assert BotRun.objects.get(message=inbound).reason == "not_configured"
    bot.api_key = "sk-org-key"
    bot.save()
    customer_says(conversation, "Hello again", at=timezone.now() + timedelta(seconds=1))
    assert ai.requests[0]["authorization"] == "Bearer sk-org-key"


@pytest.mark.parametrize(("mode", "hours", "answers"), [
    ("outside", "mon-sun 00:00-24:00", False),
    ("inside", "mon-sun 00:00-24:00", True),
    ("inside", "", True),
])
def test_business_hours_mode(conversation, bot, ai, mode, hours, answers):
    bot.hours_mode, bot.business_hours = mode, hours
    bot.save()
    customer_says(conversation, "Hello")
    assert bool(ai.chat_requests()) is answers


def test_nothing_is_enqueued_when_no_bot_is_on(simulator, ai):
    conversation = ConversationFactory()
    customer_says(conversation, "Hello")
    assert not BotRun.objects.exists()
    assert ai.requests == []


def test_a_run_left_started_by_a_dead_worker_is_taken_over_without_sending_twice(conversation, bot, ai):
    from apps.bot.services import bot_message_handle

    ai.reply("Hi!")
    inbound = customer_says(conversation, "Hello")
    [reply] = bot_messages(conversation)
    # As if the worker died after sending, before recording the outcome.
    BotRun.objects.filter(message=inbound).update(status="started", created_at=timezone.now() - timedelta(hours=1))
    ai.reply("Hi again!")
    run = bot_message_handle(message_id=inbound.pk)
    assert (run.status, run.reply_ids) == ("replied", [reply.pk])
    assert bot_messages(conversation) == [reply]
    # A run still fresh is left to its worker.
    BotRun.objects.filter(message=inbound).update(status="started", created_at=timezone.now())
    assert bot_message_handle(message_id=inbound.pk) is None


def test_never_when_an_agent_takes_the_conversation_while_the_model_thinks(conversation, bot, ai, monkeypatch):
    from apps.bot import client
    from apps.conversations.models import Conversation

    agent = UserFactory(organization=conversation.organization)
    real_chat = client.chat

    def chat_while_an_agent_takes_over(**kwargs):
        answer = real_chat(**kwargs)
        Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
        return answer

    monkeypatch.setattr(client, "chat", chat_while_an_agent_takes_over)
    ai.reply("Too late.")
    inbound = customer_says(conversation, "Hello")
    assert len(ai.chat_requests()) == 1
    assert bot_messages(conversation) == []
    assert BotRun.objects.get(message=inbound).reason == "taken_over"


def test_the_hook_costs_no_query_where_no_bot_is_on(simulator, django_assert_num_queries):
    from apps.bot.services import bot_on_inbound_message
    from apps.messaging.tests.factories import MessageFactory

    conversation = ConversationFactory()
    first, second = (Message.objects.get(pk=MessageFactory(conversation=conversation).pk) for _ in range(2))
    with django_assert_num_queries(1):  # whether a bot is on in the organisation, once
        bot_on_inbound_message(message=first)
    with django_assert_num_queries(0):  # remembered; the conversation is not even loaded
        bot_on_inbound_message(message=second)
    assert not BotRun.objects.exists()
