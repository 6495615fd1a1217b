"""A small fixed world for the report tests, every figure computed by hand in
test_sections.py. Organisation zone America/Sao_Paulo (UTC-3, no DST since 2019);
the range is Monday 2025-03-10 to Sunday 2025-03-16, i.e. [03-10 03:00Z, 03-17 03:00Z)."""

from dataclasses import dataclass
from datetime import date, datetime, timezone as dt_timezone
from zoneinfo import ZoneInfo

from apps.accounts.tests.factories import OrganizationFactory, SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.models import AuditLogEntry, Conversation
from apps.conversations.tests.factories import ConversationFactory, LabelFactory
from apps.message_templates.models import MessageTemplate
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Author, MessageType, Status
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.reports.params import ReportParams
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

ZONE = "America/Sao_Paulo"
START, END = date(2025, 3, 10), date(2025, 3, 16)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=dt_timezone.utc)


@dataclass
class Data:
    org: object
    supervisor: object
    ann: object
    bob: object
    team: object
    label: object
    n1: object
    n2: object
    c: dict

    def params(self, **kw) -> ReportParams:
        return ReportParams(organization_id=self.org.pk, tz=ZoneInfo(self.org.timezone), start_date=kw.pop("start", START),
                            end_date=kw.pop("end", END), now=utc(2025, 3, 20), **kw)


def _conv(org, number, created, **kw):
    return ConversationFactory(organization=org, number=number, created_at=created, **kw)


def _in(conv, at, kind=MessageType.TEXT):
    return MessageFactory(conversation=conv, timestamp=at, type=kind)


def _out(conv, at, *, author_type=Author.AGENT, author=None, status=Status.SENT, kind=MessageType.TEXT, **kw):
    times = {}
    if status in (Status.SENT, Status.DELIVERED, Status.READ):
        times["sent_at"] = at
    if status in (Status.DELIVERED, Status.READ):
        times["delivered_at"] = at
    if status == Status.READ:
        times["read_at"] = at
    return OutboundMessageFactory(conversation=conv, timestamp=at, author_type=author_type, author=author,
                                  status=status, type=kind, **times, **kw)


def _template(name, language):
    return {"name": name, "language": {"code": language}}


def _audit(conv, action, at, **data):
    return AuditLogEntry.objects.create(organization_id=conv.organization_id, conversation=conv, action=action,
                                        data=data, created_at=at)


def build() -> Data:
    org = OrganizationFactory(timezone=ZONE)
    supervisor = SupervisorFactory(organization=org, username="sue")
    ann = UserFactory(organization=org, username="ann")
    bob = UserFactory(organization=org, username="bob")
    team = TeamFactory(organization=org, members=[ann, bob])
    label = LabelFactory(organization=org, name="vip")
    n1 = WhatsAppNumberFactory(organization=org)
    n2 = WhatsAppNumberFactory(organization=org)
    MessageTemplateFactory(organization=org, name="order_update", language="en_US",
                           category=MessageTemplate.Category.UTILITY)
    MessageTemplateFactory(organization=org, name="shipping_notice", language="pt_BR",
                           category=MessageTemplate.Category.MARKETING)
    resolved = Conversation.Status.RESOLVED

    # c1: Monday 09:00 local; first response 600 s; waits 600 and 1200 s; resolved after 7200 s.
    c1 = _conv(org, n1, utc(2025, 3, 10, 12), assignee=ann, team=team, status=resolved,
               first_response_at=utc(2025, 3, 10, 12, 10), resolved_at=utc(2025, 3, 10, 14))
    c1.labels.add(label)
    _in(c1, utc(2025, 3, 10, 12))
    _out(c1, utc(2025, 3, 10, 12, 10), author=ann, status=Status.READ)
    _in(c1, utc(2025, 3, 10, 12, 20))
    _in(c1, utc(2025, 3, 10, 12, 25))
    _out(c1, utc(2025, 3, 10, 12, 40), author=ann, status=Status.DELIVERED)
    _out(c1, utc(2025, 3, 10, 15), author_type=Author.INTEGRATION, kind=MessageType.TEMPLATE, status=Status.FAILED,
         content=_template("shipping_notice", "pt_BR"), error_code=131026, error_title="Message undeliverable",
         failed_at=utc(2025, 3, 10, 15))
    _audit(c1, "conversation.status_changed", utc(2025, 3, 10, 14), **{"from": "open", "to": "resolved"})

    # c2: Tuesday 10:00 local; the bot answers in 60 s and hands off; Bob after 1800 s more.
    c2 = _conv(org, n1, utc(2025, 3, 11, 13), assignee=bob, first_response_at=utc(2025, 3, 11, 13, 35))
    _in(c2, utc(2025, 3, 11, 13))
    _out(c2, utc(2025, 3, 11, 13, 1), author_type=Author.BOT, status=Status.READ)
    _audit(c2, "bot.handoff", utc(2025, 3, 11, 13, 2), reason="asked for a human")
    _in(c2, utc(2025, 3, 11, 13, 5), kind=MessageType.IMAGE)
    _out(c2, utc(2025, 3, 11, 13, 35), author=bob, status=Status.SENT)
    _out(c2, utc(2025, 3, 11, 14), author=ann, kind=MessageType.TEMPLATE, status=Status.READ,
         content=_template("order_update", "en_US"))
    _out(c2, utc(2025, 3, 11, 15), author=bob, status=Status.FAILED, error_code=131047,
         error_title="Re-engagement message", failed_at=utc(2025, 3, 11, 15))
    _audit(c2, "contact.opted_out", utc(2025, 3, 12, 15), contact_id=c2.contact_id)

    # c3: Tuesday 23:00 local (Wednesday in UTC); the bot answers in 30 s and resolves it.
    c3 = _conv(org, n2, utc(2025, 3, 12, 2), status=resolved, resolved_at=utc(2025, 3, 12, 2, 10))
    _in(c3, utc(2025, 3, 12, 2))
    _out(c3, utc(2025, 3, 12, 2, 0, 30), author_type=Author.BOT, status=Status.DELIVERED)
    _audit(c3, "conversation.status_changed", utc(2025, 3, 12, 2, 10), **{"from": "open", "to": "resolved"})
    _out(c3, utc(2025, 3, 13, 12), author_type=Author.INTEGRATION, kind=MessageType.TEMPLATE,
         status=Status.DELIVERED, content=_template("shipping_notice", "pt_BR"))

    # c4: opened before the range (Sunday 20:00 local); answered inside it after 16200 s;
    # resolved inside the range, then reopened by the customer.
    c4 = _conv(org, n1, utc(2025, 3, 9, 23), assignee=ann, first_response_at=utc(2025, 3, 10, 3, 30))
    _in(c4, utc(2025, 3, 9, 23))
    _out(c4, utc(2025, 3, 10, 3, 30), author=ann, status=Status.READ)
    _audit(c4, "conversation.status_changed", utc(2025, 3, 10, 4), **{"from": "open", "to": "resolved"})
    _audit(c4, "conversation.reopened", utc(2025, 3, 12, 10), reason="customer_message")
    _in(c4, utc(2025, 3, 12, 10))

    # c5: the last second of the range; c6: the first instant after it.
    c5 = _conv(org, n2, utc(2025, 3, 17, 2, 59, 59))
    _in(c5, utc(2025, 3, 17, 2, 59, 59))
    c6 = _conv(org, n1, utc(2025, 3, 17, 3))
    _in(c6, utc(2025, 3, 17, 3))
    # Opt-out events just outside the range.
    _audit(c6, "contact.opted_in", utc(2025, 3, 17, 3), contact_id=c6.contact_id)
    _audit(c6, "contact.opted_out", utc(2025, 3, 10, 2, 59, 59), contact_id=c6.contact_id)

    # Another organisation's activity in the same range must never count.
    other = ConversationFactory(created_at=utc(2025, 3, 11, 12))
    MessageFactory(conversation=other, timestamp=utc(2025, 3, 11, 12))
    return Data(org=org, supervisor=supervisor, ann=ann, bob=bob, team=team, label=label, n1=n1, n2=n2,
                c={"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6})


def rows(tables, name):
    """The rows of the report table called `name`."""
    return next(t for t in tables if t.name == name).rows
