"""Two organisations with their people, numbers and conversations: the ground the
access and API tests stand on."""

from dataclasses import dataclass, field

import pytest

from rest_framework.test import APIClient

from apps.accounts.tests.factories import AdminFactory, SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.tests.factories import CannedResponseFactory, ConversationFactory, LabelFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

FOREIGN_SECRET_TOKEN = "EAAG-foreign-secret-token-ZZZ999"
FOREIGN_NAME = "Zebulon Foreignperson"


@dataclass
class World:
    org: object
    number: object
    admin: object
    supervisor: object
    agent: object
    colleague: object
    team: object
    mine: object  # assigned to agent
    colleagues: object  # assigned to colleague
    unassigned: object  # unassigned, on the agent's team's number
    label: object
    canned: object
    foreign_org: object
    foreign_admin: object
    foreign_user: object
    foreign_team: object
    foreign_label: object
    foreign: object  # a conversation of the other organisation
    extra: dict = field(default_factory=dict)


def build_world() -> World:
    number = WhatsAppNumberFactory(access_token="EAAG-home-secret-token-AAA111")
    org = number.organization
    agent = UserFactory(organization=org, username="agent")
    colleague = UserFactory(organization=org, username="colleague")
    team = TeamFactory(organization=org, members=[agent, colleague], numbers=[number])
    mine = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Alice Mine")
    colleagues = ConversationFactory(organization=org, number=number, assignee=colleague, contact__name="Bob Colleague")
    unassigned = ConversationFactory(organization=org, number=number, contact__name="Carol Unassigned")
    MessageFactory(conversation=mine, text="where is my parcel")

    foreign_number = WhatsAppNumberFactory(access_token=FOREIGN_SECRET_TOKEN)
    foreign_org = foreign_number.organization
    foreign_user = UserFactory(organization=foreign_org)
    foreign = ConversationFactory(
        organization=foreign_org, number=foreign_number, assignee=foreign_user, contact__name=FOREIGN_NAME
    )
    MessageFactory(conversation=foreign, text="foreign secret message text")
    return World(
        org=org,
        number=number,
        admin=AdminFactory(organization=org, username="orgadmin", is_staff=True),
        supervisor=SupervisorFactory(organization=org, username="supervisor"),
        agent=agent,
        colleague=colleague,
        team=team,
        mine=mine,
        colleagues=colleagues,
        unassigned=unassigned,
        label=LabelFactory(organization=org, name="vip"),
        canned=CannedResponseFactory(organization=org, shortcut="hello"),
        foreign_org=foreign_org,
        foreign_admin=AdminFactory(organization=foreign_org, is_staff=True),
        foreign_user=foreign_user,
        foreign_team=TeamFactory(organization=foreign_org, members=[foreign_user]),
        foreign_label=LabelFactory(organization=foreign_org, name="foreign-label"),
        foreign=foreign,
    )


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Hashing every factory user's password with the production hasher costs seconds;
    modules that import this fixture use a fast one (never in production)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
