"""A demo organisation to try the product on embedded defaults (`make demo`).

Idempotent: run it again and it finds what it made and adds nothing twice. A demo
user that exists keeps its password (and so its browsers' sessions, which a new
password hash would end); only a user it creates gets the fixed password below.

The conversations are consistent in time, as the product would have written them:
each opens with its first customer message (contact and conversation created then),
its first answer is its first agent message, its window runs from the last customer
message, and a resolved one was resolved after its last message (with the audit entry
the reports count).
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
from apps.conversations.models import AuditLogEntry, CannedResponse, Contact, Conversation, Label
from apps.conversations.services import contact_get_or_create, conversation_get_or_open
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
    # username, (first name, last name), role, staff, password, team names
    ("demo-admin", ("Carla", "Mendes"), User.Role.ADMIN, True, "violet-harbor-lantern", ["Support"]),
    ("demo-supervisor", ("Bruno", "Lima"), User.Role.SUPERVISOR, False, "copper-meadow-signal", ["Support", "Sales"]),
    ("demo-agent", ("Ana", "Souza"), User.Role.AGENT, False, "quiet-river-compass", ["Support"]),
]

DEMO_LABELS = [("vip", "#b45309"), ("billing", "#2563eb"), ("complaint", "#dc2626"), ("new-lead", "#16a34a")]
DEMO_CANNED = [
    ("hello", "Hello! Thank you for writing to us. How can we help?"),
    ("hours", "We answer Monday to Friday, 9:00 to 18:00."),
    ("thanks", "Thank you! Is there anything else we can do for you?"),
]
# wa_id, name, assigned to the demo agent, [(direction, text, minutes ago)], label names,
# minutes ago it was resolved (None: still open).
DEMO_CONVERSATIONS = [
    ("15550100101", "Maria Silva", True, [
        ("in", "Hi, my order #1042 has not arrived yet.", 50),
        ("out", "Hello Maria! Let me check that for you.", 45),
        ("in", "Thank you. It was due yesterday.", 40),
    ], ["complaint"], None),
    ("15550100102", "John Carter", False, [
        ("in", "Do you deliver on Saturdays?", 30),
    ], ["new-lead"], None),
    ("15550100103", "Aiko Tanaka", False, [
        ("in", "Could you send me the invoice for March?", 20),
        ("out", "Of course, sending it now.", 18),
        ("in", "Got it, thanks!", 10),
    ], ["billing", "vip"], None),
    ("15550100104", "Lucas Pereira", True, [
        ("in", "Can I change the delivery address of order #1038?", 26 * 60),
        ("out", "Yes! Which address should we use?", 26 * 60 - 6),
        ("in", "Rua das Flores 120, São Paulo.", 26 * 60 - 9),
        ("out", "Done: order #1038 goes to Rua das Flores 120.", 26 * 60 - 12),
    ], [], 26 * 60 - 15),
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
            for username, (first_name, last_name), role, staff, password, team_names in DEMO_USERS:
                existing = User.objects.filter(username=username).first()
                user = existing or User(username=username)
                user.organization, user.role, user.is_staff, user.is_active = org, role, staff, True
                user.email = f"{username}@example.com"
                user.first_name, user.last_name = first_name, last_name
                user.display_name = f"{first_name} {last_name}"
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
            now = timezone.now()
            for wa_id, name, assigned, messages, label_names, resolved in DEMO_CONVERSATIONS:
                self._conversation(org, number, agent, assigned, wa_id, name, messages,
                                   [labels[n] for n in label_names], resolved, now)

        if settings.SIMULATOR_ENABLED:  # sample templates for the composer's picker and notifications
            call_command("seed_demo_templates", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo organisation ready."))
        self.stdout.write(f"Open {settings.SITE_URL} and sign in as:")
        for user, password in users:
            self.stdout.write(user_line(user.username, user.name, user.role, user.is_staff, password))
        self.stdout.write(f"The demo number {DEMO_PHONE_NUMBER_ID} talks to the built-in simulator "
                          f"(customer phone at /simulator/ when the simulator is enabled).")

    def _conversation(self, org, number, agent, assigned, wa_id, name, messages, labels, resolved_minutes_ago, now):
        """One conversation and its messages, created at their times, the answers by
        `agent` (once: a second run finds its first message and leaves it as it is)."""
        if Message.objects.filter(number=number, wamid=f"wamid.DEMO.{wa_id}.0").exists():
            return
        at = [now - timedelta(minutes=minutes_ago) for _direction, _text, minutes_ago in messages]
        contact = contact_get_or_create(organization=org, wa_id=wa_id, profile_name=name)
        Contact.objects.filter(pk=contact.pk, created_at__gt=at[0]).update(created_at=at[0])
        conversation, _ = conversation_get_or_open(contact=contact, number=number)
        conversation.labels.add(*labels)
        inbound = [when for (direction, _text, _m), when in zip(messages, at) if direction == "in"]
        answers = [when for (direction, _text, _m), when in zip(messages, at) if direction == "out"]
        Message.objects.bulk_create([
            Message(
                organization=org, conversation=conversation, number=number, wamid=f"wamid.DEMO.{wa_id}.{position}",
                direction=Direction.INBOUND if direction == "in" else Direction.OUTBOUND,
                author_type=Author.CUSTOMER if direction == "in" else Author.AGENT,
                author=None if direction == "in" else agent,
                type=MessageType.TEXT, content={"body": text}, text=text,
                status=Status.RECEIVED if direction == "in" else Status.READ,
                timestamp=when, sent_at=None if direction == "in" else when,
            )
            for position, ((direction, text, _minutes_ago), when) in enumerate(zip(messages, at))
        ])
        changes = {
            "created_at": at[0], "assignee": agent if assigned else None,
            "last_message_at": at[-1], "last_message_preview": messages[-1][1][:200],
            "last_customer_message_at": inbound[-1] if inbound else None,
            "first_response_at": answers[0] if answers else None,
            # What an agent has not read yet: the customer's messages after the last answer.
            "unread_count": sum(1 for when in inbound if not answers or when > answers[-1]),
        }
        if resolved_minutes_ago is not None:
            resolved_at = now - timedelta(minutes=resolved_minutes_ago)
            changes.update(status=Conversation.Status.RESOLVED, resolved_at=resolved_at, unread_count=0)
            AuditLogEntry.objects.create(
                organization=org, conversation=conversation, actor=agent, action="conversation.status_changed",
                data={"from": Conversation.Status.OPEN, "to": Conversation.Status.RESOLVED}, created_at=resolved_at,
            )
        Conversation.objects.filter(pk=conversation.pk).update(**changes)


def user_line(username: str, name: str, role: str, staff: bool, password: str) -> str:
    """How the demo prints a user (here and in `manage.py demo`)."""
    extra = ", Django admin at /admin/" if staff else ""
    return f"  {username:<16} password {password:<24} {name} ({User.Role(role).label}{extra})"
