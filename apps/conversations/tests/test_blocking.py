"""Blocking a customer on a number, end to end: the service, the REST API and the
inbox's panel, against the simulator as Meta's Block Users API (over real HTTP)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.conversations import services
from apps.conversations.models import AuditLogEntry, ContactBlock
from apps.conversations.tests.factories import ConversationFactory
from apps.core.errors import SendError
from apps.messaging.services.send import message_send
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.graph_blocking import blocklist
from apps.simulator.models import SimulatedMessage, SimulatedRequest
from apps.simulator.testing import inject, simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(simulator):  # noqa: F811
    return build_world()


def wrote_lately(conversation, *, customer=None):
    """The customer wrote to the number on the simulated WhatsApp (Meta blocks only those)."""
    SimulatedMessage.objects.create(
        phone_number_id=conversation.number.phone_number_id,
        customer=customer or conversation.contact.wa_id,
        direction=SimulatedMessage.Direction.FROM_CUSTOMER,
        wamid=f"wamid.IN{conversation.pk}",
        type="text",
    )


def block_calls():
    return SimulatedRequest.objects.filter(path__endswith="/block_users")


def test_a_supervisor_blocks_at_whatsapp_and_here_with_an_audit_entry(world):
    wrote_lately(world.mine)
    block = services.contact_block(
        conversation=world.mine, actor=world.supervisor, reason="abusive"
    )
    assert (block.contact, block.number, block.blocked_by, block.reason) == (
        world.mine.contact,
        world.number,
        world.supervisor,
        "abusive",
    )
    assert blocklist(world.number.phone_number_id) == [
        {"wa_id": world.mine.contact.wa_id}
    ]
    entry = AuditLogEntry.objects.get(action="contact.blocked")
    assert (entry.actor, entry.conversation, entry.data["number_id"]) == (
        world.supervisor,
        world.mine,
        world.number.pk,
    )
    # Again: nothing more at Meta, nothing more here.
    calls = block_calls().count()
    services.contact_block(conversation=world.mine, actor=world.supervisor)
    assert block_calls().count() == calls and ContactBlock.objects.count() == 1


def test_meta_refuses_a_customer_who_has_not_written_lately_in_clear_words(world):
    with pytest.raises(Exception) as caught:
        services.contact_block(conversation=world.mine, actor=world.admin)
    assert "only customers who wrote to this number in the last 24 hours" in " ".join(
        caught.value.messages
    )
    # Meta's own reason for this customer, from the answer's list of refused users, not
    # the call's general "see the list" message.
    said = " ".join(caught.value.messages)
    assert "Users can only be blocked if they have sent a message" in said
    assert "see the block_users response list" not in said
    assert block_calls().get().status_code == 400
    assert (
        not ContactBlock.objects.exists()
        and not AuditLogEntry.objects.filter(action="contact.blocked").exists()
    )


def test_an_agent_may_not_block_and_meta_is_not_called(world):
    wrote_lately(world.mine)
    with pytest.raises(Exception) as caught:
        services.contact_block(conversation=world.mine, actor=world.agent)
    assert type(caught.value).__name__ == "PermissionDenied"
    assert not block_calls().exists() and not ContactBlock.objects.exists()


def test_the_blocklist_limit_is_explained(world):
    wrote_lately(world.mine)
    inject(fail_code=139101, fail_count=1)
    with pytest.raises(Exception) as caught:
        services.contact_block(conversation=world.mine, actor=world.supervisor)
    assert "blocklist is full" in " ".join(caught.value.messages)
    assert not ContactBlock.objects.exists()


def test_a_refused_unblock_says_unblock_and_keeps_the_block(world):
    wrote_lately(world.mine)
    services.contact_block(conversation=world.mine, actor=world.supervisor)
    inject(fail_code=139100, fail_count=1)
    with pytest.raises(Exception) as caught:
        services.contact_unblock(conversation=world.mine, actor=world.supervisor)
    said = " ".join(caught.value.messages)
    assert "did not unblock" in said and "24 hours" not in said
    assert ContactBlock.objects.filter(contact=world.mine.contact).exists()


def test_a_customer_without_a_phone_is_blocked_by_user_id(world):
    conversation = ConversationFactory(
        organization=world.org,
        number=world.number,
        contact__wa_id="",
        contact__phone="",
        contact__user_id="BR.1A2b3C4d5E",
    )
    wrote_lately(conversation, customer="BR.1A2b3C4d5E")
    services.contact_block(conversation=conversation, actor=world.supervisor)
    assert block_calls().get().body["block_users"] == [{"user_id": "BR.1A2b3C4d5E"}]
    assert blocklist(world.number.phone_number_id) == [{"user_id": "BR.1A2b3C4d5E"}]


def test_nothing_is_sent_to_a_blocked_customer_and_unblocking_lifts_it(world):
    wrote_lately(world.mine)
    services.contact_block(conversation=world.mine, actor=world.supervisor)
    with pytest.raises(SendError) as caught:
        message_send(
            conversation=world.mine,
            author=world.agent,
            kind="text",
            payload={"body": "hi"},
        )
    assert caught.value.code == "blocked"
    assert (
        services.contact_unblock(conversation=world.mine, actor=world.supervisor)
        is True
    )
    assert blocklist(world.number.phone_number_id) == []
    assert not ContactBlock.objects.exists()
    assert (
        AuditLogEntry.objects.filter(
            action="contact.unblocked", actor=world.supervisor
        ).count()
        == 1
    )


# --- REST API ----------------------------------------------------------------------------


def test_api_block_state_block_list_and_unblock(world):
    wrote_lately(world.mine)
    url = f"/api/v1/conversations/{world.mine.pk}/block/"
    client = api_as(world.supervisor)
    assert client.get(url).json()["blocked"] is False
    response = client.post(url, {"reason": "spam"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | {"blocked_at": None} == {
        "contact_id": world.mine.contact_id,
        "number_id": world.number.pk,
        "blocked": True,
        "blocked_at": None,
        "blocked_by": world.supervisor.pk,
        "reason": "spam",
    }
    listed = client.get(f"/api/v1/numbers/{world.number.pk}/blocked-users/").json()
    assert listed["after"] is None
    assert [
        (r["wa_id"], r["contact_id"], r["blocked_by"]) for r in listed["results"]
    ] == [(world.mine.contact.wa_id, world.mine.contact_id, world.supervisor.pk)]
    assert client.delete(url).json()["blocked"] is False


def test_api_refusals(world):
    url = f"/api/v1/conversations/{world.mine.pk}/block/"
    assert api_as(world.agent).post(url, {}, format="json").status_code == 403
    assert (
        api_as(world.agent)
        .get(f"/api/v1/numbers/{world.number.pk}/blocked-users/")
        .status_code
        == 403
    )
    assert api_as(world.foreign_admin).post(url, {}, format="json").status_code == 404
    assert (
        api_as(world.foreign_admin)
        .get(f"/api/v1/numbers/{world.number.pk}/blocked-users/")
        .status_code
        == 404
    )
    response = api_as(world.supervisor).post(
        url, {}, format="json"
    )  # the customer has not written lately
    assert response.status_code == 400 and "24 hours" in response.json()["detail"][0]
    assert (
        api_as(world.supervisor)
        .get(f"/api/v1/numbers/{world.number.pk}/blocked-users/?after=../x")
        .status_code
        == 400
    )
    assert not block_calls().filter(method="GET").exists()
    assert not ContactBlock.objects.exists()


def test_the_blocklist_pages_through_the_simulator(world):
    conversations = [
        ConversationFactory(organization=world.org, number=world.number)
        for _ in range(3)
    ]
    for conversation in conversations:
        wrote_lately(conversation)
        services.contact_block(conversation=conversation, actor=world.admin)
    client = api_as(world.admin)
    first = client.get(
        f"/api/v1/numbers/{world.number.pk}/blocked-users/?limit=2"
    ).json()
    second = client.get(
        f"/api/v1/numbers/{world.number.pk}/blocked-users/?limit=2&after={first['after']}"
    ).json()
    assert [r["contact_id"] for r in first["results"] + second["results"]] == [
        c.contact_id for c in conversations
    ]
    assert second["after"] is None


def test_the_schema_documents_blocking(world):
    schema = api_as(world.admin).get("/api/schema/?format=json").json()
    assert {"get", "post", "delete"} <= set(
        schema["paths"]["/api/v1/conversations/{id}/block/"]
    )
    assert "get" in schema["paths"]["/api/v1/numbers/{id}/blocked-users/"]


# --- The inbox ---------------------------------------------------------------------------


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_panel_blocks_with_a_confirmation_and_flags_later_messages(world):
    wrote_lately(world.mine)
    earlier = MessageFactory(
        conversation=world.mine,
        text="before the block",
        timestamp=timezone.now() - timedelta(minutes=5),
    )
    panel = (
        browser(world.supervisor)
        .get(reverse("inbox:panel_contact", args=[world.mine.pk]))
        .content.decode()
    )
    assert (
        "Block this customer" in panel
        and 'hx-confirm="Block this customer on this number?"' in panel
    )
    url = reverse("inbox:contact_block", args=[world.mine.pk])
    unconfirmed = browser(world.supervisor).post(
        url, {"reason": "x"}, HTTP_HX_REQUEST="true"
    )
    assert unconfirmed.status_code == 422 and not block_calls().exists()
    response = browser(world.supervisor).post(
        url, {"reason": "x", "confirm": "yes"}, HTTP_HX_REQUEST="true"
    )
    assert (
        response.status_code == 200
        and "Blocked on this number since" in response.content.decode()
    )
    later = MessageFactory(
        conversation=world.mine,
        text="after the block",
        timestamp=timezone.now() + timedelta(seconds=1),
    )
    page = browser(world.agent).get(f"/inbox/c/{world.mine.pk}/").content.decode()
    assert page.count("data-after-block") == 1
    assert (
        "Received after the customer was blocked"
        in browser(world.agent)
        .get(reverse("inbox:message", args=[later.pk]))
        .content.decode()
    )
    assert (
        "data-after-block"
        not in browser(world.agent)
        .get(reverse("inbox:message", args=[earlier.pk]))
        .content.decode()
    )


def test_an_agent_sees_the_block_but_no_button(world):
    ContactBlock.objects.create(
        organization=world.org,
        contact=world.mine.contact,
        number=world.number,
        blocked_by=world.supervisor,
    )
    panel = (
        browser(world.agent)
        .get(reverse("inbox:panel_contact", args=[world.mine.pk]))
        .content.decode()
    )
    assert "Blocked on this number since" in panel and "Unblock" not in panel
    response = browser(world.agent).post(
        reverse("inbox:contact_unblock", args=[world.mine.pk]), HTTP_HX_REQUEST="true"
    )
    assert (
        response.status_code == 403
        and "Only supervisors and admins" in response.content.decode()
    )
    assert ContactBlock.objects.exists() and not block_calls().exists()


def test_a_meta_refusal_shows_in_the_panel(world):
    response = browser(world.supervisor).post(
        reverse("inbox:contact_block", args=[world.mine.pk]),
        {"confirm": "yes"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "last 24 hours" in response.content.decode()
