from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from apps.accounts.models import Organization, Team, User
from apps.accounts.tests.factories import OrganizationFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.conversations.models import CannedResponse, Contact, Conversation, Label
from apps.messaging.models import Message
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db


def run(*args, **kwargs):
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_create_organization_with_its_admin():
    output = run("create_organization", "Acme Ltd", "--admin-username", "boss", "--admin-password",
                 "violet-harbor-lantern-9")
    org = Organization.objects.get(slug="acme-ltd")
    boss = User.objects.get(username="boss")
    assert (boss.organization, boss.role, boss.is_staff, boss.is_superuser) == (org, "admin", True, False)
    assert "acme-ltd" in output and "violet-harbor-lantern-9" not in output


@pytest.mark.parametrize("password", ["password", "12345678901", "short", "boss-boss"])
def test_create_organization_refuses_a_weak_password(password):
    with pytest.raises(CommandError):
        run("create_organization", "Acme Ltd", "--admin-username", "boss", "--admin-password", password)
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_create_organization_refuses_a_taken_slug():
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError):
        run("create_organization", "Acme", "--slug", "acme")
    assert Organization.objects.count() == 1


def test_bind_number_reads_secrets_from_the_environment(monkeypatch):
    org = OrganizationFactory(slug="acme")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-from-env-secret-123456")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "app-secret-from-env")
    output = run("bind_number", "--org", "acme", "--phone-number-id", "123456789012345", "--waba-id", "987",
                 "--display-number", "+1 555 0100", "--verify-token", "verify-me", "--rate-limit", "20")
    number = WhatsAppNumber.objects.get(phone_number_id="123456789012345")
    assert (number.organization, number.provider, number.waba_id, number.display_phone_number) == (
        org, "meta", "987", "+1 555 0100"
    )
    assert (number.access_token, number.app_secret, number.verify_token, number.rate_limit_per_second) == (
        "EAAG-from-env-secret-123456", "app-secret-from-env", "verify-me", 20
    )
    assert "EAAG-from-env-secret-123456" not in output and "app-secret-from-env" not in output
    # Run again without secrets: the binding is updated, the stored secrets kept.
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN")
    monkeypatch.delenv("WHATSAPP_APP_SECRET")
    run("bind_number", "--org", "acme", "--phone-number-id", "123456789012345", "--rate-limit", "30")
    number.refresh_from_db()
    assert (number.access_token, number.rate_limit_per_second) == ("EAAG-from-env-secret-123456", 30)
    assert WhatsAppNumber.objects.count() == 1


def test_bind_number_refuses_a_number_of_another_organisation():
    number = WhatsAppNumberFactory(phone_number_id="555000111")
    OrganizationFactory(slug="thief")
    with pytest.raises(CommandError):
        run("bind_number", "--org", "thief", "--phone-number-id", "555000111")
    number.refresh_from_db()
    assert number.organization.slug != "thief"


@pytest.mark.parametrize("args", [["--provider", "carrier-pigeon"], ["--rate-limit", "0"], ["--rate-limit", "5000"]])
def test_bind_number_refuses_bad_input(args):
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError):
        run("bind_number", "--org", "acme", "--phone-number-id", "123", *args)
    assert not WhatsAppNumber.objects.exists()


def test_list_bindings_never_prints_secrets():
    number = WhatsAppNumberFactory(access_token="EAAG-never-print-me-0000", app_secret="never-print-secret",
                                   verify_token="never-print-verify")
    output = run("list_bindings")
    assert number.phone_number_id in output and number.organization.slug in output
    for secret in ("EAAG-never-print-me-0000", "never-print-secret", "never-print-verify"):
        assert secret not in output


def test_seed_demo_is_idempotent_and_its_printed_passwords_work():
    first = run("seed_demo")
    counts = [m.objects.count() for m in (Organization, User, Team, WhatsAppNumber, Contact, Conversation, Message,
                                          Label, CannedResponse)]
    second = run("seed_demo")
    assert [m.objects.count() for m in (Organization, User, Team, WhatsAppNumber, Contact, Conversation, Message,
                                        Label, CannedResponse)] == counts
    assert counts[:4] == [1, 3, 2, 1] and counts[5] == 4 and counts[6] == 11
    assert first.splitlines()[1:] == second.splitlines()[1:]
    assert "http://127.0.0.1:8000" in first
    number = WhatsAppNumber.objects.get()
    assert (number.phone_number_id, number.provider, bool(number.app_secret)) == ("100000000000001", "simulator", True)
    request = RequestFactory().post("/accounts/login/")
    for username, role, name in (("demo-admin", "admin", "Carla Mendes"), ("demo-supervisor", "supervisor", "Bruno Lima"),
                                 ("demo-agent", "agent", "Ana Souza")):
        line = next(line for line in first.splitlines() if line.strip().startswith(username))
        password = line.split("password")[1].split()[0]
        user = authenticate(request, username=username, password=password)
        assert user is not None and user.role == role
        # People with names, as the inbox shows them (assignee, mentions, reports).
        assert (user.name, user.get_full_name()) == (name, name)
        assert f"{name} ({user.get_role_display()}" in line
    assert User.objects.get(username="demo-admin").is_staff is True
    from apps.simulator.management.commands.seed_demo_templates import SAMPLES
    from apps.simulator.models import SimulatedTemplate

    # The composer's template picker has something to offer once the server syncs.
    assert SimulatedTemplate.objects.filter(waba_id=number.waba_id).count() == len(SAMPLES)


def test_seed_demo_data_is_consistent_in_time():
    """What the product itself would have written: contact and conversation created
    with the first customer message, the first answer the first agent message, the
    window from the last customer message, a resolution after the last message; so
    the reports of a fresh demo show no negative time."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from apps.conversations.models import AuditLogEntry
    from apps.reports import sections
    from apps.reports.params import ReportParams

    run("seed_demo")
    conversations = Conversation.objects.select_related("contact").order_by("created_at")
    assert all(c.contact.profile_name for c in conversations)
    for conversation in conversations:
        messages = list(Message.objects.filter(conversation=conversation).order_by("timestamp"))
        inbound = [m.timestamp for m in messages if m.direction == "in"]
        answers = [m.timestamp for m in messages if m.direction == "out"]
        assert conversation.contact.created_at <= conversation.created_at == messages[0].timestamp
        assert conversation.first_response_at == (answers[0] if answers else None)
        assert conversation.last_customer_message_at == inbound[-1]
        assert conversation.last_message_at == messages[-1].timestamp
        assert all(m.author.name == "Ana Souza" for m in messages if m.direction == "out")
        if conversation.status == "resolved":
            assert conversation.resolved_at > messages[-1].timestamp
            entry = AuditLogEntry.objects.get(conversation=conversation, action="conversation.status_changed")
            assert entry.created_at == conversation.resolved_at
    org = Organization.objects.get(slug="demo")
    zone = ZoneInfo(org.timezone)
    today = timezone.now().astimezone(zone).date()
    params = ReportParams(organization_id=org.pk, tz=zone, start_date=today - timedelta(days=2), end_date=today)
    first_response, _waiting, resolution = sections.response_times(params)[0].rows
    # Maria 5 min, Aiko 2 min, Lucas 6 min; Lucas resolved after 15 min.
    assert first_response == ["first_response", 3, 300.0, 348.0, 260.0]
    assert resolution == ["resolution", 1, 900.0, 900.0, 900.0]
