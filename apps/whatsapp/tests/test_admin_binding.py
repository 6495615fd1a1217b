"""Binding a number to an organisation in admin: Meta's ids (phone number id, WABA id),
the provider and the organisation are the platform's to set; one id, one organisation."""

import pytest
from django.test import Client

from apps.accounts.tests.factories import AdminFactory, OrganizationFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db

BINDING = ("organization_id", "provider", "phone_number_id", "waba_id")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def numbers():
    home = WhatsAppNumberFactory(name="Home line", phone_number_id="100000000000001", waba_id="200000000000001")
    foreign = WhatsAppNumberFactory(name="Foreign line", phone_number_id="100000000000002",
                                    waba_id="200000000000002")
    return home, foreign


@pytest.fixture
def org_admin(numbers):
    return AdminFactory(organization=numbers[0].organization, is_staff=True)


@pytest.fixture
def platform_admin():
    return UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")


def binding(number) -> tuple:
    number.refresh_from_db()
    return tuple(getattr(number, field) for field in BINDING)


def add_data(organization, **overrides) -> dict:
    data = {"organization": organization.pk, "provider": "meta", "name": "New line",
            "phone_number_id": "100000000000099", "waba_id": "200000000000099",
            "display_phone_number": "+55 11 90000-0099", "access_token": "EAAG-new", "app_secret": "new-secret",
            "verify_token": "", "is_active": "on", "rate_limit_per_second": 80}
    data.update(overrides)
    return data


def test_org_admin_cannot_add_a_number_and_is_told_why(numbers, org_admin):
    home, foreign = numbers
    client = logged_in(org_admin)
    assert client.get("/admin/whatsapp/whatsappnumber/add/").status_code == 403
    response = client.post("/admin/whatsapp/whatsappnumber/add/",
                           add_data(home.organization, waba_id=foreign.waba_id))
    assert response.status_code == 403
    assert WhatsAppNumber.objects.count() == 2
    changelist = client.get("/admin/whatsapp/whatsappnumber/").content.decode()
    assert "Only the platform&#x27;s administrators add numbers" in changelist
    assert 'href="/admin/whatsapp/whatsappnumber/add/"' not in changelist


def test_org_admin_sees_the_binding_read_only_and_cannot_change_it(numbers, org_admin, platform_admin):
    home, foreign = numbers
    client = logged_in(org_admin)
    page = client.get(f"/admin/whatsapp/whatsappnumber/{home.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"organization", "provider", "phone_number_id", "waba_id"} & set(form.fields)
    body = page.content.decode()
    assert home.phone_number_id in body and home.waba_id in body  # shown, read-only
    assert "Only the platform&#x27;s administrators add numbers" in body
    before = binding(home)
    response = client.post(f"/admin/whatsapp/whatsappnumber/{home.pk}/change/", {
        "organization": foreign.organization.pk, "provider": "twilio", "phone_number_id": "100000000000077",
        "waba_id": foreign.waba_id, "name": "Renamed line", "display_phone_number": home.display_phone_number,
        "verify_token": "", "is_active": "on", "rate_limit_per_second": 80,
    })
    assert response.status_code == 302
    assert binding(home) == before
    home.refresh_from_db()
    assert home.name == "Renamed line"  # the rest of the form is theirs


def test_platform_admin_cannot_bind_another_organisations_waba_id(numbers, platform_admin):
    home, foreign = numbers
    client = logged_in(platform_admin)
    response = client.post("/admin/whatsapp/whatsappnumber/add/",
                           add_data(home.organization, waba_id=foreign.waba_id))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["waba_id"] == [
        "This WhatsApp Business Account id is bound to another organisation."
    ]
    assert WhatsAppNumber.objects.count() == 2
    # Changing a number to it, or moving a number away from its WABA's organisation, too.
    before = binding(home)
    page = client.get(f"/admin/whatsapp/whatsappnumber/{home.pk}/change/")
    data = {name: page.context["adminform"].form.initial.get(name) or "" for name in (
        "organization", "provider", "name", "phone_number_id", "waba_id", "display_phone_number", "verify_token",
        "rate_limit_per_second")}
    data["is_active"] = "on"
    refused = client.post(f"/admin/whatsapp/whatsappnumber/{home.pk}/change/", {**data, "waba_id": foreign.waba_id})
    assert refused.status_code == 200
    assert "waba_id" in refused.context["adminform"].form.errors
    WhatsAppNumberFactory(organization=home.organization, waba_id=home.waba_id, phone_number_id="100000000000003")
    moved = client.post(f"/admin/whatsapp/whatsappnumber/{home.pk}/change/",
                        {**data, "organization": foreign.organization.pk})
    assert moved.status_code == 200
    assert "waba_id" in moved.context["adminform"].form.errors
    assert binding(home) == before


def test_platform_admin_binds_a_waba_id_of_the_same_organisation_or_a_new_one(numbers, platform_admin):
    home, _foreign = numbers
    client = logged_in(platform_admin)
    same = client.post("/admin/whatsapp/whatsappnumber/add/",
                       add_data(home.organization, waba_id=home.waba_id))
    assert same.status_code == 302
    fresh = client.post("/admin/whatsapp/whatsappnumber/add/",
                        add_data(OrganizationFactory(), phone_number_id="100000000000098"))
    assert fresh.status_code == 302
    assert WhatsAppNumber.objects.filter(phone_number_id__in=["100000000000099", "100000000000098"]).count() == 2


def test_a_phone_number_id_binds_one_number(numbers, platform_admin):
    home, foreign = numbers
    response = logged_in(platform_admin).post(
        "/admin/whatsapp/whatsappnumber/add/",
        add_data(foreign.organization, phone_number_id=home.phone_number_id, waba_id=foreign.waba_id),
    )
    assert response.status_code == 200
    assert "phone_number_id" in response.context["adminform"].form.errors
    assert WhatsAppNumber.objects.count() == 2
    assert binding(home)[0] == home.organization_id
