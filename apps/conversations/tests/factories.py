import factory
from django.utils import timezone

from apps.accounts.tests.factories import OrganizationFactory
from apps.conversations.models import CannedResponse, Contact, Conversation, Label, Note
from apps.whatsapp.tests.factories import WhatsAppNumberFactory


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    wa_id = factory.Sequence(lambda n: f"5511{n:09d}")
    phone = factory.LazyAttribute(lambda c: f"+{c.wa_id}")
    profile_name = factory.Faker("name")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    organization = factory.SubFactory(OrganizationFactory)
    contact = factory.SubFactory(ContactFactory, organization=factory.SelfAttribute("..organization"))
    number = factory.SubFactory(WhatsAppNumberFactory, organization=factory.SelfAttribute("..organization"))
    last_customer_message_at = factory.LazyFunction(timezone.now)
    last_message_at = factory.LazyFunction(timezone.now)


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"label-{n}")


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    conversation = factory.SubFactory(ConversationFactory)
    organization = factory.SelfAttribute("conversation.organization")
    body = "A private note"


class CannedResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedResponse

    organization = factory.SubFactory(OrganizationFactory)
    shortcut = factory.Sequence(lambda n: f"reply{n}")
    body = "Thank you for writing to us."
