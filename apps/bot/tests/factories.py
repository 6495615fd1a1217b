import factory

from apps.accounts.tests.factories import OrganizationFactory
from apps.bot.models import BotSettings, KnowledgeFAQ


class BotSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BotSettings

    organization = factory.SubFactory(OrganizationFactory)
    enabled = True
    model = "test-model"
    system_prompt = "You are the assistant of a bakery."


class KnowledgeFAQFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeFAQ

    organization = factory.SubFactory(OrganizationFactory)
    question = factory.Sequence(lambda n: f"Question {n}?")
    answer = "An answer."
