"""Use-cases on contacts and conversations. The only writers of these rows."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.realtime import groups
from apps.realtime.publish import publish

from .models import AuditLogEntry, Contact, Conversation
from .serializers import ConversationSerializer


def contact_get_or_create(*, organization, wa_id: str, profile_name: str | None = None) -> Contact:
    """`contacts_get_or_create_many` for one wa_id."""
    return contacts_get_or_create_many(organization=organization, profiles={wa_id: profile_name or ""})[wa_id]


def contacts_get_or_create_many(*, organization, profiles: dict[str, str]) -> dict[str, Contact]:
    """The organisation's contacts for any number of wa_ids (`profiles`: wa_id -> the
    profile name Meta sent, or ""), created when new, the profile name refreshed when
    Meta sends a different one: one SELECT and one INSERT however many. Safe under
    concurrency (a contact a concurrent first message created is read back)."""
    found = {c.wa_id: c for c in Contact.objects.filter(organization=organization, wa_id__in=list(profiles))}
    missing = [wa_id for wa_id in profiles if wa_id not in found]
    if missing:
        Contact.objects.bulk_create(
            [Contact(organization=organization, wa_id=wa_id, phone=f"+{wa_id}", profile_name=profiles[wa_id] or "")
             for wa_id in missing],
            ignore_conflicts=True,  # a concurrent first message created it: read it below
        )
        found.update({c.wa_id: c for c in Contact.objects.filter(organization=organization, wa_id__in=missing)})
    for wa_id, contact in found.items():
        contact.organization = organization
        _profile_name_refresh(contact, profiles.get(wa_id))
    return found


def _profile_name_refresh(contact: Contact, name: str | None) -> None:
    if name and contact.profile_name != name:
        Contact.objects.filter(pk=contact.pk).update(profile_name=name)
        contact.profile_name = name


def inbound_parties_many(*, organization, number, profiles: dict[str, str]
                         ) -> tuple[dict[str, Contact], dict[int, tuple[Conversation, str]]]:
    """`contacts_get_or_create_many` and then `conversations_for_inbound_many`, with
    the customers who have an active conversation on `number` (most messages of a
    busy inbox) read in one query, their conversation with its contact: wa_id ->
    contact, contact id -> (conversation, how)."""
    contacts: dict[str, Contact] = {}
    conversations: dict[int, tuple[Conversation, str]] = {}
    # The contact's organisation, not the conversation's: (organization, wa_id) is the
    # contacts' unique index. With only wa_id PostgreSQL chose the trigram search index
    # (49 ms instead of 0.4 on 100,000 contacts).
    active = (Conversation.objects.filter(contact__organization=organization, contact__wa_id__in=list(profiles),
                                          number=number)
              .exclude(status=Conversation.Status.RESOLVED).select_related("contact"))
    for conversation in active:
        contact = conversation.contact
        contact.organization = organization
        _profile_name_refresh(contact, profiles.get(contact.wa_id))
        contacts[contact.wa_id] = contact
        conversations[contact.pk] = (_active_for_inbound(conversation), "existing")
    rest = {wa_id: name for wa_id, name in profiles.items() if wa_id not in contacts}
    if rest:
        more = contacts_get_or_create_many(organization=organization, profiles=rest)
        contacts.update(more)
        conversations.update(conversations_for_inbound_many(contacts=list(more.values()), number=number))
    return contacts, conversations


def _active_for_inbound(conversation: Conversation) -> Conversation:
    """A customer's message wakes the snoozed conversation it lands in."""
    if conversation.status == Conversation.Status.SNOOZED:
        _conversation_wake(conversation, reason="customer_message")
    return conversation


def conversations_for_inbound_many(*, contacts: list[Contact], number) -> dict[int, tuple[Conversation, str]]:
    """`conversation_for_inbound` for many contacts of one number that had no active
    conversation on it when `inbound_parties_many` read them: contact id ->
    (conversation, "created" | "reopened" | "existing"). The new customers'
    conversations are created with one INSERT; only contacts with a resolved
    conversation to reopen, or whose conversation a concurrent message opened since,
    take the single path."""
    found: dict[int, tuple[Conversation, str]] = {}
    missing = list(contacts)
    if not missing:
        return found
    single = set()
    if number.organization.on_message_to_resolved == number.organization.ResolvedPolicy.REOPEN:
        single = set(Conversation.objects.filter(contact__in=missing, number=number,
                                                 status=Conversation.Status.RESOLVED)
                     .values_list("contact_id", flat=True).distinct())
    fresh = [contact for contact in missing if contact.pk not in single]
    if fresh:
        try:
            with transaction.atomic():
                created = Conversation.objects.bulk_create([
                    Conversation(organization_id=contact.organization_id, contact=contact, number=number)
                    for contact in fresh
                ])
        except IntegrityError:  # a concurrent message opened one of them: one by one
            single.update(contact.pk for contact in fresh)
        else:
            found.update((conversation.contact_id, (conversation, "created")) for conversation in created)
    for contact in missing:
        if contact.pk in single:
            found[contact.pk] = conversation_for_inbound(contact=contact, number=number)
    return found


def conversation_get_or_open(*, contact: Contact, number, bot_active: bool = False) -> tuple[Conversation, bool]:
    """The contact's active (not resolved) conversation on `number`, or a new open one.

    The partial unique constraint (one active conversation per contact and number)
    settles races: the loser of a concurrent insert reads the winner's row.
    """
    active = Conversation.objects.filter(contact=contact, number=number).exclude(status=Conversation.Status.RESOLVED)
    conversation = active.first()
    if conversation is not None:
        return conversation, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                organization_id=contact.organization_id, contact=contact, number=number, bot_active=bot_active
            )
            return conversation, True
    except IntegrityError:
        return active.get(), False


def conversation_publish(conversation: Conversation, *, event: str = "conversation.updated") -> None:
    """Announce the conversation's current state to everyone who may see it."""
    publish(event, ConversationSerializer(conversation).data, groups=groups.conversation_groups(conversation))


def conversation_for_inbound(*, contact: Contact, number) -> tuple[Conversation, str]:
    """The conversation a customer's new message belongs to, and what happened to
    it: "existing", "created" or "reopened".

    A message to a resolved conversation reopens the latest one or starts a new
    one, as the organisation chose (`on_message_to_resolved`).
    """
    active = Conversation.objects.filter(contact=contact, number=number).exclude(status=Conversation.Status.RESOLVED)
    conversation = active.first()
    if conversation is not None:
        return _active_for_inbound(conversation), "existing"
    organization = contact.organization
    if organization.on_message_to_resolved == organization.ResolvedPolicy.REOPEN:
        resolved = (
            Conversation.objects.filter(contact=contact, number=number, status=Conversation.Status.RESOLVED)
            .order_by("-resolved_at", "-id")
            .first()
        )
        if resolved is not None:
            try:
                with transaction.atomic():
                    reopened = Conversation.objects.filter(
                        pk=resolved.pk, status=Conversation.Status.RESOLVED
                    ).update(status=Conversation.Status.OPEN, resolved_at=None, snoozed_until=None)
            except IntegrityError:  # a concurrent message opened another one meanwhile
                return active.get(), "existing"
            resolved.refresh_from_db()
            if reopened:
                AuditLogEntry.objects.create(
                    organization_id=resolved.organization_id,
                    conversation=resolved,
                    action="conversation.reopened",
                    data={"reason": "customer_message"},
                )
            return resolved, "reopened" if reopened else "existing"
    conversation, created = conversation_get_or_open(contact=contact, number=number)
    return conversation, "created" if created else "existing"


def _conversation_wake(conversation: Conversation, *, reason: str) -> bool:
    """Snoozed → open (one conditional UPDATE: a concurrent wake or change wins)."""
    woken = Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.SNOOZED).update(
        status=Conversation.Status.OPEN, snoozed_until=None, updated_at=timezone.now()
    )
    if woken:
        conversation.status, conversation.snoozed_until = Conversation.Status.OPEN, None
        AuditLogEntry.objects.create(
            organization_id=conversation.organization_id,
            conversation=conversation,
            action="conversation.woken",
            data={"reason": reason},
        )
    return bool(woken)


def conversation_wake_snoozed(*, now=None) -> int:
    """Reopen every snoozed conversation whose time has come (the periodic job);
    each is announced to those who may see it. Returns how many were woken."""
    now = now or timezone.now()
    due = Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now).order_by("pk")
    woken = 0
    for conversation in due.iterator():
        with transaction.atomic():
            if _conversation_wake(conversation, reason="snooze_ended"):
                woken += 1
                conversation_publish(conversation)
    return woken


@dataclass(frozen=True)
class Activity:
    """A message in a conversation, as its last activity counts it: the message's
    time and preview, how many customer messages it stands for (0 for the business's
    own; they add to the unread count and move the 24-hour window), and whether it is
    an agent's answer (the first one sets first_response_at)."""

    conversation_id: int
    at: object  # datetime
    preview: str
    customer_messages: int = 0
    answers: bool = False


def conversations_record_activity(*, activities: list[Activity]) -> dict[int, Conversation]:
    """The one writer of conversations' last activity, for any number of them: one
    UPDATE … FROM (VALUES …), the values in id order (two drains updating the same
    conversations tend to take them in the same order). For each, only when the
    message is the newest (a late delivery never moves the preview back): the last
    message's time and preview; the window (last_customer_message_at) likewise for
    customer messages; the unread count grows by the customer messages; an agent's
    first answer sets first_response_at once; updated_at is now.

    The same statement returns the updated conversations, ready for their live events
    (`conversation_event_data`): every column, the assignee's name fields (`assignee`
    holds a User with only those loaded) and the labels (`event_labels`: id, name and
    colour, in the labels' order); the caller sets `contact`. The assignee's and
    labels' subselects see the database as the statement started."""
    from django.db import connections, router

    connection = connections[router.db_for_write(Conversation)]
    if not activities:
        return {}
    returning, conversations, assignees = _record_returning(connection)
    table = connection.ops.quote_name(Conversation._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::timestamptz, %s::text, %s::integer, %s::boolean)"] * len(activities))
    params = [timezone.now()]
    for activity in sorted(activities, key=lambda activity: activity.conversation_id):
        params.extend([activity.conversation_id, activity.at, activity.preview[:200], activity.customer_messages,
                       activity.answers])
    newer = "(c.last_message_at IS NULL OR c.last_message_at < v.ts)"
    sql = (
        f"UPDATE {table} AS c SET "
        f"last_message_at = CASE WHEN {newer} THEN v.ts ELSE c.last_message_at END, "
        f"last_message_preview = CASE WHEN {newer} THEN v.preview ELSE c.last_message_preview END, "
        "last_customer_message_at = CASE WHEN v.n > 0 AND (c.last_customer_message_at IS NULL "
        "OR c.last_customer_message_at < v.ts) THEN v.ts ELSE c.last_customer_message_at END, "
        "unread_count = c.unread_count + v.n, "
        "first_response_at = CASE WHEN v.answers AND c.first_response_at IS NULL THEN v.ts "
        "ELSE c.first_response_at END, updated_at = %s "
        f"FROM (VALUES {rows}) AS v(id, ts, preview, n, answers) WHERE c.id = v.id RETURNING {returning}"
    )
    found: dict[int, Conversation] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            conversation = conversations.load(row[:len(conversations)])
            assignee_row, label_rows = (_json(value) for value in row[len(conversations):])
            if assignee_row is not None:
                conversation.assignee = assignees.load(assignee_row)
            conversation.event_labels = [{"id": pk, "name": name, "color": color}
                                         for pk, name, color in label_rows or []]
            found[conversation.pk] = conversation
    return found


def conversation_record_inbound(*, conversation: Conversation, timestamp, preview: str, count: int = 1
                                ) -> Conversation | None:
    """`conversations_record_activity` for customer messages of one conversation (a
    batch passes its newest message's time and preview and how many it stored)."""
    return conversations_record_activity(activities=[
        Activity(conversation.pk, timestamp, preview, customer_messages=count)]).get(conversation.pk)


def conversations_record_inbound_many(*, updates: list[tuple[int, object, str, int]]) -> dict[int, Conversation]:
    """`conversations_record_activity` for customer messages: `updates` holds
    (conversation id, newest message time, its preview, how many messages)."""
    return conversations_record_activity(activities=[
        Activity(pk, at, preview, customer_messages=count) for pk, at, preview, count in updates])


def conversation_record_outbound(*, conversation: Conversation, at, preview: str, answers: bool) -> None:
    """`conversations_record_activity` for a message the business sends (`answers`: an
    agent's), the new values copied onto `conversation`."""
    fresh = conversations_record_activity(activities=[
        Activity(conversation.pk, at, preview, answers=answers)]).get(conversation.pk)
    if fresh is not None:
        for field in ("last_message_at", "last_message_preview", "first_response_at", "updated_at"):
            setattr(conversation, field, getattr(fresh, field))


_returning_cache: dict[str, tuple] = {}


def _record_returning(connection) -> tuple:
    """The RETURNING list of conversations_record_activity and the loaders of its
    rows, built once per database."""
    cached = _returning_cache.get(connection.alias)
    if cached is not None:
        return cached
    from apps.core.rows import RowLoader

    qn = connection.ops.quote_name
    fields = list(Conversation._meta.concrete_fields)
    user_model = Conversation._meta.get_field("assignee").related_model
    user_fields = [f for f in user_model._meta.concrete_fields if f.attname in ("id", *user_model.NAME_FIELDS)]
    label_model = Conversation._meta.get_field("labels").related_model
    through = Conversation._meta.get_field("labels").remote_field.through
    label_order = []
    for name in (*label_model._meta.ordering, "id"):
        descending = name.startswith("-")
        column = qn(label_model._meta.get_field(name.lstrip("-")).column)
        label_order.append(f"l.{column}{' DESC' if descending else ''}")
    assignee = (f"(SELECT json_build_array({', '.join('u.' + qn(f.column) for f in user_fields)}) "
                f"FROM {qn(user_model._meta.db_table)} AS u "
                f"WHERE u.id = c.{qn(Conversation._meta.get_field('assignee').column)})")
    labels = (f"(SELECT json_agg(json_build_array(l.id, l.{qn('name')}, l.{qn('color')}) "
              f"ORDER BY {', '.join(label_order)}) "
              f"FROM {qn(through._meta.db_table)} AS cl JOIN {qn(label_model._meta.db_table)} AS l "
              f"ON l.id = cl.{qn(through._meta.get_field('label').column)} "
              f"WHERE cl.{qn(through._meta.get_field('conversation').column)} = c.id)")
    returning = f"{', '.join('c.' + qn(f.column) for f in fields)}, {assignee}, {labels}"
    cached = _returning_cache[connection.alias] = (
        returning, RowLoader(Conversation, fields, connection), RowLoader(user_model, user_fields, connection))
    return cached


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _normalise_keyword(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split()).strip(" .!").upper()


def opt_keyword_match(*, organization, text: str) -> str | None:
    """"out" when `text` is one of the organisation's opt-out keywords, "in" for an
    opt-in keyword, None otherwise. Accents, case and surrounding space are ignored;
    the whole message must be the keyword."""
    normalised = _normalise_keyword(text)
    if not normalised or len(normalised) > 40:
        return None
    if normalised in {_normalise_keyword(k) for k in (organization.opt_out_keywords or [])}:
        return "out"
    if normalised in {_normalise_keyword(k) for k in (organization.opt_in_keywords or [])}:
        return "in"
    return None


def contact_opt_out(*, contact: Contact, reason: str, at=None, conversation: Conversation | None = None,
                    actor=None) -> bool:
    """Stop everything the business sends to `contact` (but what the law and Meta
    allow). Returns False when the contact had already opted out."""
    at = at or timezone.now()
    return _contact_opt_change(contact=contact, opted_out=True, at=at, reason=reason, conversation=conversation,
                               actor=actor)


def contact_opt_in(*, contact: Contact, reason: str, conversation: Conversation | None = None, actor=None) -> bool:
    """Clear an opt-out. Returns False when the contact had not opted out."""
    return _contact_opt_change(contact=contact, opted_out=False, at=None, reason=reason, conversation=conversation,
                               actor=actor)


def _contact_opt_change(*, contact: Contact, opted_out: bool, at, reason: str, conversation, actor) -> bool:
    """Flip the opt-out flag with one conditional UPDATE (a repeat changes nothing)
    and record who did it."""
    kept_reason = reason[:200] if opted_out else ""
    changed = Contact.objects.filter(pk=contact.pk, opted_out=not opted_out).update(
        opted_out=opted_out, opted_out_at=at, opt_out_reason=kept_reason, updated_at=timezone.now()
    )
    if changed:
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = opted_out, at, kept_reason
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id,
            actor=actor,
            conversation=conversation,
            action="contact.opted_out" if opted_out else "contact.opted_in",
            data={"contact_id": contact.pk, "reason": reason[:200]},
        )
    return bool(changed)


def contact_marketing_preference_set(*, organization, wa_id: str, opted_out: bool, at) -> Contact | None:
    """Meta's user_preferences: the customer stopped or resumed marketing messages
    in WhatsApp itself. A late, older notice never overrides a newer one."""
    contact = Contact.objects.filter(organization=organization, wa_id=wa_id).first()
    if contact is None:
        contact = contact_get_or_create(organization=organization, wa_id=wa_id)
    newer = Q(marketing_opted_out_at__isnull=True) | Q(marketing_opted_out_at__lte=at)
    changed = Contact.objects.filter(newer, pk=contact.pk).exclude(
        marketing_opted_out=opted_out, marketing_opted_out_at=at
    ).update(marketing_opted_out=opted_out, marketing_opted_out_at=at, updated_at=timezone.now())
    if changed:
        contact.marketing_opted_out, contact.marketing_opted_out_at = opted_out, at
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id,
            action="contact.marketing_stopped" if opted_out else "contact.marketing_resumed",
            data={"contact_id": contact.pk, "source": "user_preferences"},
        )
    return contact


# --- Agents' and supervisors' use-cases (the inbox and the REST API call these) ----
# Each one checks the actor's right through apps.accounts.access, writes an audit
# entry and publishes the new state to everyone who may see it.

from django.core.exceptions import PermissionDenied, ValidationError  # noqa: E402

from apps.accounts import access  # noqa: E402

from .models import Label, Note  # noqa: E402
from .serializers import ContactSerializer, NoteSerializer  # noqa: E402

CONTACT_ATTRIBUTES_MAX_KEYS = 50
CONTACT_ATTRIBUTE_VALUE_MAX = 1000


def _audit(*, conversation: Conversation | None, actor, action: str, data: dict, organization_id=None) -> None:
    AuditLogEntry.objects.create(
        organization_id=organization_id or conversation.organization_id,
        actor=actor if getattr(actor, "pk", None) else None,
        conversation=conversation,
        action=action,
        data=data,
    )


def _publish_conversation(conversation: Conversation, *, also_to: list[str] = ()) -> None:
    """conversation.updated to the groups that see it now, and a stub to those that saw
    it before and no longer do (an agent who lost it must hear so, to drop it)."""
    now = groups.conversation_groups(conversation)
    publish("conversation.updated", ConversationSerializer(conversation).data, groups=now)
    conversation_publish_lost(conversation, before=also_to, now=now)


def conversation_publish_lost(conversation: Conversation, *, before: list[str], now: list[str] | None = None
                              ) -> None:
    """Tell the groups in `before` that may no longer see the conversation to drop it:
    only its id, the same stub a catch-up replays, never its contact or preview."""
    from apps.realtime.selectors import removed_stub

    now = groups.conversation_groups(conversation) if now is None else now
    lost = [group for group in dict.fromkeys(before) if group not in now]
    if lost:
        publish("conversation.updated", removed_stub(conversation.pk), groups=lost)


def _require_act(actor, conversation: Conversation) -> None:
    if not access.can_act_on_conversation(actor, conversation):
        raise PermissionDenied("You may not act on this conversation.")


def conversation_assign(*, conversation: Conversation, actor, assignee=None, team=None, set_team: bool = False
                        ) -> Conversation:
    """Give the conversation to `assignee` (None: unassign) and, when `set_team`, to `team`.

    Assignee and team must be of the conversation's organisation, and the assignee
    active; who may assign whom is decided by access.can_assign.
    """
    for target in (assignee, team):
        if target is not None and target.organization_id != conversation.organization_id:
            raise ValidationError("Unknown user or team.")
    if assignee is not None and not assignee.is_active:
        raise ValidationError("This user is deactivated.")
    if not access.can_assign(actor, conversation, assignee=assignee, team=team if set_team else None):
        raise PermissionDenied("You may not assign this conversation.")
    before_groups = groups.conversation_groups(conversation)
    before = {"assignee_id": conversation.assignee_id, "team_id": conversation.team_id}
    conversation.assignee = assignee
    fields = ["assignee", "updated_at"]
    if set_team:
        conversation.team = team
        fields.append("team")
    with transaction.atomic():
        conversation.save(update_fields=fields)
        _audit(
            conversation=conversation,
            actor=actor,
            action="conversation.assigned",
            data={"from": before, "to": {"assignee_id": conversation.assignee_id, "team_id": conversation.team_id}},
        )
        _publish_conversation(conversation, also_to=before_groups)
    return conversation


def conversation_set_status(*, conversation: Conversation, actor, status: str, snoozed_until=None) -> Conversation:
    """Open, pending, snoozed (until a time in the future) or resolved."""
    _require_act(actor, conversation)
    if status not in Conversation.Status.values:
        raise ValidationError("Unknown status.")
    now = timezone.now()
    if status == Conversation.Status.SNOOZED:
        if snoozed_until is None or snoozed_until <= now:
            raise ValidationError("A snoozed conversation needs a time in the future.")
    else:
        snoozed_until = None
    previous = conversation.status
    conversation.status = status
    conversation.snoozed_until = snoozed_until
    if status == Conversation.Status.RESOLVED:
        conversation.resolved_at = conversation.resolved_at if previous == status else now
    else:
        conversation.resolved_at = None
    try:
        with transaction.atomic():
            conversation.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
            _audit(
                conversation=conversation,
                actor=actor,
                action="conversation.status_changed",
                data={"from": previous, "to": status, "snoozed_until": snoozed_until.isoformat() if snoozed_until else None},
            )
            _publish_conversation(conversation)
    except IntegrityError:
        conversation.refresh_from_db()
        raise ValidationError("The contact has another active conversation on this number.") from None
    return conversation


def conversation_set_labels(*, conversation: Conversation, actor, label_ids) -> Conversation:
    """Replace the conversation's labels. Every label must be of its organisation."""
    _require_act(actor, conversation)
    wanted = set(label_ids)
    labels = list(Label.objects.filter(organization_id=conversation.organization_id, pk__in=wanted))
    if len(labels) != len(wanted):
        raise ValidationError("Unknown label.")
    before = sorted(conversation.labels.values_list("pk", flat=True))
    with transaction.atomic():
        conversation.labels.set(labels)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
        _audit(
            conversation=conversation,
            actor=actor,
            action="conversation.labels_changed",
            data={"from": before, "to": sorted(wanted)},
        )
        _publish_conversation(conversation)
    return conversation


def conversation_set_priority(*, conversation: Conversation, actor, priority: int) -> Conversation:
    _require_act(actor, conversation)
    if priority not in Conversation.Priority.values:
        raise ValidationError("Unknown priority.")
    previous = conversation.priority
    conversation.priority = priority
    with transaction.atomic():
        conversation.save(update_fields=["priority", "updated_at"])
        _audit(
            conversation=conversation,
            actor=actor,
            action="conversation.priority_changed",
            data={"from": previous, "to": priority},
        )
        _publish_conversation(conversation)
    return conversation


def conversation_set_bot(*, conversation: Conversation, actor, active: bool) -> Conversation:
    """Turn the bot on or off for this conversation (off: a human takes over)."""
    _require_act(actor, conversation)
    conversation.bot_active = bool(active)
    with transaction.atomic():
        conversation.save(update_fields=["bot_active", "updated_at"])
        _audit(
            conversation=conversation,
            actor=actor,
            action="conversation.bot_enabled" if active else "conversation.bot_disabled",
            data={},
        )
        _publish_conversation(conversation)
    return conversation


MENTION_RE = re.compile(r"(?<![\w@.])@([\w.@+-]{1,150})")


def note_mentioned_users(*, conversation: Conversation, body: str) -> list:
    """The active users of the conversation's organisation named as @username in
    `body` (a trailing full stop or comma is not part of the name). Raises
    ValidationError naming whoever is mentioned but may not see the conversation."""
    from apps.accounts.models import User

    names = {match.rstrip(".,;:!?") for match in MENTION_RE.findall(body or "")}
    if not names:
        return []
    users = list(
        User.objects.filter(organization_id=conversation.organization_id, is_active=True, username__in=names)
        .order_by("username")
    )
    blind = [u.username for u in users if not access.can_view_conversation(u, conversation)]
    if blind:
        raise ValidationError(
            _("@%(names)s cannot see this conversation; assign it to them first or remove the mention.")
            % {"names": ", @".join(blind)}
        )
    return users


def note_create(*, conversation: Conversation, author, body: str) -> Note:
    """A private note, seen by whoever may see the conversation. Colleagues named
    as @username are recorded as mentioned and hear of the note on their own group."""
    _require_act(author, conversation)
    body = (body or "").strip()
    if not body:
        raise ValidationError("A note cannot be empty.")
    if len(body) > 10000:
        raise ValidationError("A note is at most 10000 characters.")
    mentioned = note_mentioned_users(conversation=conversation, body=body)
    with transaction.atomic():
        note = Note.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, author=author, body=body
        )
        if mentioned:
            note.mentions.set(mentioned)
        _audit(
            conversation=conversation, actor=author, action="note.created",
            data={"note_id": note.pk, **({"mentions": [u.pk for u in mentioned]} if mentioned else {})},
        )
        data = NoteSerializer(note).data
        publish("note.created", data, groups=groups.conversation_groups(conversation))
        if mentioned:
            publish(
                "note.created",
                {**data, "mentions": [u.pk for u in mentioned], "mentioned": True},
                groups=[groups.user(u.pk) for u in mentioned],
            )
    return note


def _contact_groups(contact: Contact) -> list[str]:
    found = [groups.org_supervisors(contact.organization_id)]
    for conversation in Conversation.objects.filter(contact=contact).exclude(status=Conversation.Status.RESOLVED):
        found.extend(groups.conversation_groups(conversation))
    return found


def _publish_contact(contact: Contact) -> None:
    publish("contact.updated", ContactSerializer(contact).data, groups=_contact_groups(contact))


def contact_update(*, contact: Contact, actor, name: str | None = None, attributes: dict | None = None) -> Contact:
    """Change the name the business gives the contact and its free attributes."""
    if not access.can_edit_contact(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    changed = {}
    if name is not None:
        name = name.strip()
        if len(name) > 200:
            raise ValidationError("A name is at most 200 characters.")
        changed["name"] = name
    if attributes is not None:
        if not isinstance(attributes, dict) or len(attributes) > CONTACT_ATTRIBUTES_MAX_KEYS:
            raise ValidationError(f"Attributes are an object of at most {CONTACT_ATTRIBUTES_MAX_KEYS} keys.")
        for key, value in attributes.items():
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                raise ValidationError("Attribute values are text, numbers, true/false or null.")
            if len(str(key)) > 100 or len(str(value)) > CONTACT_ATTRIBUTE_VALUE_MAX:
                raise ValidationError("An attribute is too long.")
        changed["attributes"] = attributes
    if not changed:
        return contact
    for field, value in changed.items():
        setattr(contact, field, value)
    with transaction.atomic():
        contact.save(update_fields=[*changed, "updated_at"])
        _audit(
            conversation=None,
            organization_id=contact.organization_id,
            actor=actor,
            action="contact.updated",
            data={"contact_id": contact.pk, "fields": sorted(changed)},
        )
        _publish_contact(contact)
    return contact


def contact_set_opt_out(*, contact: Contact, actor, opted_out: bool, reason: str = "") -> Contact:
    """An agent records (or clears) the contact's opt-out of everything the business sends."""
    if not access.can_edit_contact(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    with transaction.atomic():
        if opted_out:
            changed = contact_opt_out(contact=contact, reason=reason or "set by an agent", actor=actor)
        else:
            changed = contact_opt_in(contact=contact, reason=reason or "set by an agent", actor=actor)
        if changed:
            _publish_contact(contact)
    return contact
