import factory

from apps.accounts.tests.factories import OrganizationFactory
from apps.message_templates.models import MessageTemplate


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    organization = factory.SubFactory(OrganizationFactory)
    waba_id = "200000000000001"
    name = factory.Sequence(lambda n: f"order_update_{n}")
    language = "en_US"
    category = MessageTemplate.Category.UTILITY
    status = MessageTemplate.Status.APPROVED
    components = factory.LazyFunction(
        lambda: [{"type": "BODY", "text": "Hello {{1}}, your order {{2}} has shipped."}]
    )
    meta_id = factory.Sequence(lambda n: f"9{n:010d}")
