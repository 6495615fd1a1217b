"""A demo organisation to try the product on embedded defaults (`make demo`).

Idempotent: run it again and it finds what it made and adds nothing twice. A demo
user that exists keeps its password (and so its browsers' sessions, which a new
password hash would end); only a user it creates gets the fixed password below.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Organization, Team, User
from apps.whatsapp.services import number_bind
from apps.conversations.models import CannedResponse, Label
from apps.conversations.services import (
    contact_get_or_create,
    conversation_get_or_open,
    conversation_record_inbound,
)
from apps.messaging.models import Author, Direction, Message, MessageType, Status

DEMO_ORG_SLUG = "demo"
DEMO_PHONE_NUMBER_ID = "100000000000001"
DEMO_WABA_ID = "200000000000001"
DEMO_DISPLAY_NUMBER = "+1 555 010 0001"
DEMO_ACCESS_TOKEN = "demo-simulator-access-token"
DEMO_APP_SECRET = "demo-simulator-app-secret"
DEMO_VERIFY_TOKEN = "demo-verify-token"

# Fixed demo passwords (they pass the password validators); printed at the end.
DEMO_USERS = [
    # username, role, staff, password, team names
    ("demo-admin", User.Role.ADMIN, True, "violet-harbor-lantern", ["Support"]),
    ("demo-supervisor", User.Role.SUPERVISOR, False, "copper-meadow-signal", ["Support", "Sales"]),
    ("demo-agent", User.Role.AGENT, False, "quiet-river-compass", ["Support"]),
]

DEMO_LABELS = [("vip", "#b45309"), ("billing", "#2563eb"), ("complaint", "#dc2626"), ("new-lead", "#16a34a")]
DEMO_CANNED = [
    ("hello", "Hello! Thank you for writing to us. How can we help?"),
    ("hours", "We answer Monday to Friday, 9:00 to 18:00."),
    ("thanks", "Thank you! Is there anything else we can do for you?"),
]
# wa_id, name, [(direction, text, minutes ago)], label names
DEMO_CONVERSATIONS = [
    ("15550100101", "Maria Silva", [
        ("in", "Hi, my order #1042 has not arrived yet.", 50),
        ("out", "Hello Maria! Let me check that for you.", 45),
        ("in", "Thank you. It was due yesterday.", 40),
    ], ["complaint"]),
    ("15550100102", "John Carter", [
        ("in", "Do you deliver on Saturdays?", 30),
    ], ["new-lead"]),
    ("15550100103", "Aiko Tanaka", [
        ("in", "Could you send me the invoice for March?", 20),
        ("out", "Of course, sending it now.", 18),
        ("in", "Got it, thanks!", 10),
    ], ["billing", "vip"]),
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo organisation, its users, number, teams and conversations."

    def handle(self, *args, **options):
        with transaction.atomic():
            org, _ = Organization.objects.get_or_create(slug=DEMO_ORG_SLUG, defaults={"name": "Demo Company"})
            number, _ = number_bind(
                organization=org,
                phone_number_id=DEMO_PHONE_NUMBER_ID,
                provider="simulator",
                waba_id=DEMO_WABA_ID,
                display_phone_number=DEMO_DISPLAY_NUMBER,
                name="Demo line",
                access_token=DEMO_ACCESS_TOKEN,
                app_secret=DEMO_APP_SECRET,
                verify_token=DEMO_VERIFY_TOKEN,
            )
            teams = {}
            for team_name in ("Support", "Sales"):
                teams[team_name], _ = Team.objects.get_or_create(organization=org, name=team_name)
            teams["Support"].numbers.add(number)
            users = []
            for username, role, staff, password, team_names in DEMO_USERS:
                existing = User.objects.filter(username=username).first()
                user = existing or User(username=username)
                user.organization, user.role, user.is_staff, user.is_active = org, role, staff, True
                user.email = f"{username}@example.com"
                user.display_name = username.replace("demo-", "").capitalize()
                if existing is None:
                    validate_password(password, user=user)
                    user.set_password(password)
                user.save()
                user.teams.add(*(teams[name] for name in team_names))
                users.append((user, password))
            labels = {}
            for name, color in DEMO_LABELS:
                labels[name], _ = Label.objects.get_or_create(organization=org, name=name, defaults={"color": color})
            for shortcut, body in DEMO_CANNED:
                CannedResponse.objects.get_or_create(organization=org, shortcut=shortcut, defaults={"body": body})
            agent = users[2][0]
            for index, (wa_id, name, messages, label_names) in enumerate(DEMO_CONVERSATIONS):
                self._conversation(org, number, agent if index == 0 else None, wa_id, name, messages,
                                   [labels[n] for n in label_names])

        if settings.SIMULATOR_ENABLED:  # sample templates for the composer's picker and notifications
            call_command("seed_demo_templates", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo organisation ready."))
        self.stdout.write(f"Open {settings.SITE_URL} and sign in as:")
        for user, password in users:
            staff = ", Django admin at /admin/" if user.is_staff else ""
            self.stdout.write(f"  {user.username:<16} password {password:<24} ({user.get_role_display()}{staff})")
        self.stdout.write(f"The demo number {DEMO_PHONE_NUMBER_ID} talks to the built-in simulator "
                          f"(customer phone at /simulator/ when the simulator is enabled).")

    def _conversation(self, org, number, assignee, wa_id, name, messages, labels):
        contact = contact_get_or_create(organization=org, wa_id=wa_id, profile_name=name)
        conversation, _ = conversation_get_or_open(contact=contact, number=number)
        if assignee is not None and conversation.assignee_id is None:
            conversation.assignee = assignee
            conversation.save(update_fields=["assignee"])
        conversation.labels.add(*labels)
        now = timezone.now()
        for position, (direction, text, minutes_ago) in enumerate(messages):
            wamid = f"wamid.DEMO.{wa_id}.{position}"
            if Message.objects.filter(number=number, wamid=wamid).exists():
                continue
            at = now - timedelta(minutes=minutes_ago)
            inbound = direction == "in"
            Message.objects.create(
                organization=org, conversation=conversation, number=number, wamid=wamid,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                author_type=Author.CUSTOMER if inbound else Author.AGENT,
                author=None if inbound else assignee,
                type=MessageType.TEXT, content={"body": text}, text=text,
                status=Status.RECEIVED if inbound else Status.READ,
                timestamp=at, sent_at=None if inbound else at,
            )
            if inbound:
                conversation_record_inbound(conversation=conversation, timestamp=at, preview=text)
            else:
                conversation.__class__.objects.filter(pk=conversation.pk).update(
                    last_message_at=at, last_message_preview=text[:200], first_response_at=at
                )
