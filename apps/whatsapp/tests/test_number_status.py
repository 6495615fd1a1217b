"""A number's standing at Meta against the simulator (over real HTTP): the periodic
status read, registering for the Cloud API and the two-step PIN from Django admin."""

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.simulator.models import SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp import health, tasks
from apps.whatsapp.models import Provider
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def number(simulator):  # noqa: F811
    return WhatsAppNumberFactory(name="Shop", display_phone_number="+1 555-078-3881")


def admin_of(number) -> Client:
    client = Client()
    client.force_login(AdminFactory(organization=number.organization, is_staff=True))
    return client


def test_the_periodic_read_stores_each_numbers_status(number):
    WhatsAppNumberFactory(provider=Provider.TWILIO)  # not Meta's: not read
    assert tasks.read_numbers_status() == 1
    number.refresh_from_db()
    assert (
        number.verified_name,
        number.quality_rating,
        number.messaging_limit,
        number.throughput_level,
        number.name_status,
        number.code_verification_status,
        number.platform_type,
        number.status_error,
    ) == (
        "Shop",
        "GREEN",
        "TIER_1K",
        "STANDARD",
        "APPROVED",
        "VERIFIED",
        "NOT_APPLICABLE",
        "",
    )
    assert number.status_checked_at is not None
    asked = SimulatedRequest.objects.get(method="GET")
    assert (asked.path.endswith(f"/{number.phone_number_id}"), asked.status_code) == (
        True,
        200,
    )
    assert set(asked.response) >= {
        "quality_rating",
        "messaging_limit_tier",
        "throughput",
        "name_status",
        "code_verification_status",
        "platform_type",
    }


def test_a_failed_read_keeps_the_last_status_and_the_error(number):
    health.number_status_read(number=number)
    inject(fail_code=190, fail_count=1)
    health.number_status_read(number=number)
    number.refresh_from_db()
    assert number.quality_rating == "GREEN" and "190" in number.status_error


def test_register_and_pin_from_admin(number):
    client = admin_of(number)
    url = f"/admin/whatsapp/whatsappnumber/{number.pk}/registration/"
    assert "six-digit PIN" in client.get(url).content.decode()
    assert (
        "six digits"
        in client.post(url, {"action": "register", "pin": "12ab56"}).content.decode()
    )
    assert not SimulatedRequest.objects.exists()
    response = client.post(url, {"action": "register", "pin": "123456"})
    assert response.status_code == 302
    number.refresh_from_db()
    assert number.registered_at is not None and number.pin_set_at is not None
    health.number_status_read(number=number)
    number.refresh_from_db()
    assert number.platform_type == "CLOUD_API"
    # Registering again needs the number's PIN, as at Meta.
    response = client.post(url, {"action": "register", "pin": "654321"})
    assert "does not match" in response.content.decode()
    assert client.post(url, {"action": "pin", "pin": "654321"}).status_code == 302
    assert client.post(url, {"action": "register", "pin": "654321"}).status_code == 302
    assert "654321" not in str(
        list(number.__class__.objects.filter(pk=number.pk).values())
    )


def test_only_the_numbers_organisation_reaches_its_registration(number):
    other = Client()
    other.force_login(AdminFactory(is_staff=True))
    assert other.get(
        f"/admin/whatsapp/whatsappnumber/{number.pk}/registration/"
    ).status_code in (403, 404)
    agent = Client()
    agent.force_login(UserFactory(organization=number.organization))
    assert (
        agent.get(
            f"/admin/whatsapp/whatsappnumber/{number.pk}/registration/"
        ).status_code
        == 302
    )  # to login
    assert not SimulatedRequest.objects.exists()


def test_the_admin_action_reads_the_status_now(number):
    response = admin_of(number).post(
        "/admin/whatsapp/whatsappnumber/",
        {"action": "read_status", "_selected_action": [number.pk]},
        follow=True,
    )
    assert "Status read for 1 number" in response.content.decode()
