import factory

from apps.accounts.tests.factories import OrganizationFactory
from apps.whatsapp.models import Provider, WhatsAppNumber


class WhatsAppNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WhatsAppNumber

    organization = factory.SubFactory(OrganizationFactory)
    provider = Provider.META
    name = factory.Sequence(lambda n: f"Line {n}")
    phone_number_id = factory.Sequence(lambda n: f"1{n:014d}")
    waba_id = factory.Sequence(lambda n: f"2{n:014d}")
    display_phone_number = factory.Sequence(lambda n: f"+55 11 9{n:04d}-0000")
    access_token = "EAAG-test-access-token-0123456789"
    app_secret = "test-app-secret"
    verify_token = "test-verify-token"
