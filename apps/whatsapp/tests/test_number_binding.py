"""One rule, at every door: a WhatsApp Business Account id belongs to one organisation
(manage.py bind_number and the numbers admin ask whatsapp.services.number_waba_id_check)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from apps.whatsapp import services
from apps.accounts.tests.factories import OrganizationFactory
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db

REFUSAL = "This WhatsApp Business Account id is bound to another organisation."


def bind(*args):
    call_command("bind_number", *args)


def rows():
    return sorted(WhatsAppNumber.objects.values_list("pk", "organization_id", "phone_number_id", "waba_id"))


@pytest.fixture
def foreign():
    return WhatsAppNumberFactory(phone_number_id="100000000000001", waba_id="200000000000001")


@pytest.mark.parametrize("waba_id", ["200000000000001", " 200000000000001 ", "200000000000001\n"])
def test_bind_number_refuses_another_organisations_waba_id_for_a_new_number(foreign, waba_id):
    OrganizationFactory(slug="acme")
    before = rows()
    with pytest.raises(CommandError) as refused:
        bind("--org", "acme", "--phone-number-id", "100000000000002", "--waba-id", waba_id)
    assert str(refused.value) == REFUSAL
    assert rows() == before


def test_bind_number_refuses_moving_a_number_to_another_organisations_waba_id(foreign):
    mine = WhatsAppNumberFactory(phone_number_id="100000000000002", waba_id="200000000000002",
                                 organization=OrganizationFactory(slug="acme"))
    before = rows()
    with pytest.raises(CommandError) as refused:
        bind("--org", "acme", "--phone-number-id", mine.phone_number_id, "--waba-id", foreign.waba_id,
             "--rate-limit", "7")
    assert str(refused.value) == REFUSAL
    assert rows() == before
    mine.refresh_from_db()
    assert mine.rate_limit_per_second != 7


def test_bind_number_binds_a_waba_id_of_its_own_organisation_or_a_new_one(foreign):
    bind("--org", foreign.organization.slug, "--phone-number-id", "100000000000003", "--waba-id", foreign.waba_id)
    bind("--org", foreign.organization.slug, "--phone-number-id", "100000000000004", "--waba-id", " 200000000000009 ")
    assert {n.phone_number_id: (n.organization_id, n.waba_id) for n in WhatsAppNumber.objects.all()} == {
        "100000000000001": (foreign.organization_id, "200000000000001"),
        "100000000000003": (foreign.organization_id, "200000000000001"),
        "100000000000004": (foreign.organization_id, "200000000000009"),
    }


def test_the_rule_is_one_function(foreign):
    other = OrganizationFactory()
    with pytest.raises(ValidationError) as refused:
        services.number_waba_id_check(waba_id=foreign.waba_id, organization_id=other.pk)
    assert refused.value.messages == [REFUSAL]
    services.number_waba_id_check(waba_id=foreign.waba_id, organization_id=foreign.organization_id)
    services.number_waba_id_check(waba_id="", organization_id=other.pk)
    # A number being moved is not its own obstacle.
    services.number_waba_id_check(waba_id=foreign.waba_id, organization_id=other.pk, number_id=foreign.pk)


@pytest.mark.parametrize("phone_number_id", [" 100000000000001", "100000000000001 "])
def test_bind_number_refuses_another_organisations_number_written_with_spaces(foreign, phone_number_id):
    OrganizationFactory(slug="acme")
    before = rows()
    with pytest.raises(CommandError) as refused:
        bind("--org", "acme", "--phone-number-id", phone_number_id)
    assert str(refused.value) == "This number is bound to another organisation."
    assert rows() == before


def test_bind_number_refuses_a_phone_number_id_of_other_digits_than_ascii():
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError):
        bind("--org", "acme", "--phone-number-id", "١٢٣٤٥٦")
    assert not WhatsAppNumber.objects.exists()
