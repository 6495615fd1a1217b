"""Account health end to end: Meta's signed account notices → the inbound pipeline →
alerts for the organisation's admins (inbox strip, Django admin, audit, live event),
restrictions refusing the sends they cover, a disabled account pausing the number."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import AdminFactory, SupervisorFactory, UserFactory
from apps.conversations.models import AuditLogEntry
from apps.conversations.tests.factories import ConversationFactory
from apps.core.errors import SendError
from apps.messaging.services.send import message_send
from apps.whatsapp.models import AccountAlert
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db


def send_text(conversation):
    return message_send(
        conversation=conversation, author=None, kind="text", payload={"body": "hello"}
    )


def test_a_restriction_alerts_once_and_refuses_the_sends_it_covers(
    deliver, number, deliveries
):
    deliver(load_fixture("account_update_restriction.json"))
    deliver(
        load_fixture("account_update_restriction.json")
    )  # Meta's redelivery changes nothing
    alert = AccountAlert.objects.get()
    assert (
        alert.organization,
        alert.number,
        alert.field,
        alert.event,
        alert.severity,
    ) == (
        number.organization,
        number,
        "account_update",
        "ACCOUNT_RESTRICTION",
        "critical",
    )
    assert (
        AuditLogEntry.objects.get(action="account.alert").data["alert_id"] == alert.pk
    )
    events = [e for batch in deliveries for e in batch if e[0] == "account.alert"]
    assert len(events) == 1 and "restricted the account" in events[0][1]["text"]
    number.refresh_from_db()
    assert [r["type"] for r in number.restrictions] == [
        "RESTRICTED_BIZ_INITIATED_MESSAGING",
        "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
    ]
    closed = ConversationFactory(
        organization=number.organization,
        number=number,
        last_customer_message_at=timezone.now() - timedelta(days=2),
    )
    with pytest.raises(SendError) as caught:
        send_text(closed)
    assert (caught.value.code, caught.value.field) == ("restricted", "number")
    assert (
        "starting conversations" in caught.value.message
        and "2100" in caught.value.message
    )
    # Within the customer's window the business still answers.
    assert send_text(
        ConversationFactory(organization=number.organization, number=number)
    ).pk


def test_a_restriction_that_expired_stops_nothing(number):
    number.restrictions = [
        {
            "type": "RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
            "covers": "customer_initiated",
            "expires_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        }
    ]
    number.save()
    assert send_text(
        ConversationFactory(organization=number.organization, number=number)
    ).pk
    number.restrictions[0]["expires_at"] = (
        timezone.now() + timedelta(days=1)
    ).isoformat()
    number.save()
    with pytest.raises(SendError) as caught:
        send_text(ConversationFactory(organization=number.organization, number=number))
    assert "answering customers" in caught.value.message


def test_a_disabled_account_pauses_the_number_and_reinstating_resumes_it(
    deliver, number
):
    deliver(load_fixture("account_update_disabled.json"))
    number.refresh_from_db()
    assert (
        number.sending_paused_at is not None
        and "ban state" in number.sending_pause_reason
    )
    deliver(load_fixture("account_update_reinstated.json"))
    number.refresh_from_db()
    assert number.sending_paused_at is None
    assert list(
        AccountAlert.objects.order_by("id").values_list("severity", flat=True)
    ) == ["critical", "info"]
    assert AuditLogEntry.objects.filter(action="number.sending_resumed").count() == 1


@pytest.mark.parametrize(
    "fixture, field, on_number",
    [
        ("account_update.json", "account_update", True),  # the WABA's only number
        ("account_alerts.json", "account_alerts", True),
        ("account_review_update.json", "account_review_update", True),
        ("business_capability_update.json", "business_capability_update", True),
        ("phone_number_name_update.json", "phone_number_name_update", True),
        ("phone_number_quality_update.json", "phone_number_quality_update", True),
        ("security.json", "security", True),
    ],
)
def test_every_account_field_alerts_the_organisation(
    deliver, number, fixture, field, on_number
):
    deliver(load_fixture(fixture))
    alert = AccountAlert.objects.get()
    assert (alert.field, alert.organization, alert.number == number) == (
        field,
        number.organization,
        on_number,
    )


def test_a_notice_about_one_number_alerts_on_that_number(deliver, number):
    other = WhatsAppNumberFactory(
        organization=number.organization,
        waba_id=number.waba_id,
        display_phone_number="+1 555-000-0000",
    )
    deliver(load_fixture("security.json"))
    assert AccountAlert.objects.get().number == number
    deliver(
        load_fixture("account_update.json")
    )  # the account: both numbers, no one number
    account = AccountAlert.objects.get(field="account_update")
    assert account.number is None and other.organization == account.organization


def test_a_notice_of_another_waba_alerts_nobody(deliver, number):
    body = load_fixture("security.json")
    body["entry"][0]["id"] = "999999999999999"
    deliver(body)
    assert not AccountAlert.objects.exists()


# --- The inbox's alerts strip -------------------------------------------------------------


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admins_see_the_alerts_and_dismiss_them(deliver, number):
    deliver(load_fixture("security.json"))
    admin = AdminFactory(organization=number.organization)
    page = browser(admin).get(reverse("inbox:list")).content.decode()
    assert 'id="account-alerts"' in page
    strip = browser(admin).get(reverse("inbox:account_alerts")).content.decode()
    assert "two-step verification was turned off" in strip
    alert = AccountAlert.objects.get()
    response = browser(admin).post(
        reverse("inbox:account_alert_dismiss", args=[alert.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "two-step" not in response.content.decode()
    alert.refresh_from_db()
    assert (alert.dismissed_by, alert.dismissed_at is not None) == (admin, True)


def test_others_see_no_alerts_and_may_not_dismiss(deliver, number):
    deliver(load_fixture("security.json"))
    alert = AccountAlert.objects.get()
    for user in (
        SupervisorFactory(organization=number.organization),
        UserFactory(organization=number.organization),
    ):
        assert (
            'id="account-alerts"'
            not in browser(user).get(reverse("inbox:list")).content.decode()
        )
    for user in (
        SupervisorFactory(organization=number.organization),
        UserFactory(organization=number.organization),
        AdminFactory(),
    ):  # another organisation's admin
        assert (
            "two-step"
            not in browser(user).get(reverse("inbox:account_alerts")).content.decode()
        )
        assert (
            browser(user)
            .post(reverse("inbox:account_alert_dismiss", args=[alert.pk]))
            .status_code
            == 404
        )
    alert.refresh_from_db()
    assert alert.dismissed_at is None


def test_the_composer_says_why_a_restriction_stops_the_conversation(deliver, number):
    deliver(load_fixture("account_update_restriction.json"))
    agent = UserFactory(organization=number.organization, role="supervisor")
    closed = ConversationFactory(
        organization=number.organization,
        number=number,
        last_customer_message_at=timezone.now() - timedelta(days=2),
    )
    open_ = ConversationFactory(organization=number.organization, number=number)
    assert (
        "starting conversations"
        in browser(agent).get(f"/inbox/c/{closed.pk}/").content.decode()
    )
    assert (
        "data-composer-restricted"
        not in browser(agent).get(f"/inbox/c/{open_.pk}/").content.decode()
    )
