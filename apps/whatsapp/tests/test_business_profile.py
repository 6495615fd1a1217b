"""The business profile and conversational automation from Django admin, against the
simulator (over real HTTP): read from Meta, checked, sent back, read back."""

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.providers.meta import profile as meta
from apps.providers.meta.client import client_for
from apps.simulator.models import SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "about": "We answer fast",
    "address": "Rua A, 1, São Paulo",
    "description": "Plants and pots",
    "email": "hello@example.com",
    "website_1": "https://example.com",
    "website_2": "",
    "vertical": "RETAIL",
    "enable_welcome_message": "on",
    "prompts": "Track my order\nTalk to someone",
    "commands": "tickets: Book a ticket\n/hours: Opening hours",
}


@pytest.fixture
def number(simulator):  # noqa: F811
    return WhatsAppNumberFactory()


def admin_of(number) -> Client:
    client = Client()
    client.force_login(AdminFactory(organization=number.organization, is_staff=True))
    return client


def url(number) -> str:
    return f"/admin/whatsapp/whatsappnumber/{number.pk}/profile/"


def test_the_page_reads_the_profile_from_meta(number):
    page = admin_of(number).get(url(number)).content.decode()
    assert (
        "Hello, we answer here." in page
        and "https://pps.whatsapp.net/v/simulated.jpg" in page
    )


def test_saving_sends_both_and_reads_them_back(number):
    response = admin_of(number).post(url(number), FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    client = client_for(number)
    assert meta.profile_get(client) == meta.BusinessProfile(
        about="We answer fast",
        address="Rua A, 1, São Paulo",
        description="Plants and pots",
        email="hello@example.com",
        websites=("https://example.com",),
        vertical="RETAIL",
        profile_picture_url="https://pps.whatsapp.net/v/simulated.jpg",
    )
    assert meta.automation_get(client) == meta.Automation(
        enable_welcome_message=True,
        prompts=("Track my order", "Talk to someone"),
        commands=(("tickets", "Book a ticket"), ("hours", "Opening hours")),
    )
    page = admin_of(number).get(url(number)).content.decode()
    assert "tickets: Book a ticket" in page


@pytest.mark.parametrize(
    "change, error",
    [
        ({"about": "x" * 140}, "at most 139"),
        ({"prompts": "a\nb\nc\nd\ne"}, "At most 4 ice breakers"),
        ({"commands": "no colon here"}, "write name: description"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_input_is_refused_before_meta(number, change, error):
    response = admin_of(number).post(url(number), {**FORM, **change})
    assert response.status_code == 200 and error in response.content.decode()
    assert not SimulatedRequest.objects.filter(method="POST").exists()


def test_a_refusal_at_meta_is_shown_and_the_form_kept(number):
    inject(fail_code=100, fail_count=1)
    response = admin_of(number).post(url(number), FORM)
    assert response.status_code == 200
    html = response.content.decode()
    assert "WhatsApp refused" in html and "We answer fast" in html


def test_an_unreadable_profile_offers_no_form(number):
    inject(fail_code=190, fail_count=1)
    html = admin_of(number).get(url(number)).content.decode()
    assert "WhatsApp did not give the profile" in html and 'name="about"' not in html


def test_another_organisation_does_not_reach_it(number):
    other = Client()
    other.force_login(AdminFactory(is_staff=True))
    assert other.get(url(number)).status_code in (403, 404)
    assert not SimulatedRequest.objects.exists()
