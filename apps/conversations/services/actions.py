"""What people do to a conversation: assign, status, labels, priority, the bot switch,
notes; each audited and published."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import access
from apps.realtime import groups
from apps.realtime.publish import publish, removed_stub

from ..models import AuditLogEntry, Conversation, Label, Note, NoteMention
from ..selectors import mention_unread_count
from ..serializers import ConversationSerializer, NoteSerializer


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
    # Naming oneself is not a mention: nobody is told of their own note.
    mentioned = [u for u in note_mentioned_users(conversation=conversation, body=body) if u.pk != author.pk]
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
        for user in mentioned:
            # Each colleague's own copy carries how many mentions they have unread: the
            # page sets its count from it (a replayed event changes nothing twice).
            publish(
                "note.created",
                {**data, "mentions": [u.pk for u in mentioned], "mentioned": True,
                 "unread_mentions": mention_unread_count(user=user)},
                groups=[groups.user(user.pk)],
            )
    return note


def mentions_mark_read(*, user, conversation: Conversation) -> int:
    """`user` opened the conversation: the notes that mention them there are read.
    When any was unread, their other pages hear how many mentions are left unread
    (mentions.read, to their own group). Returns how many were marked."""
    marked = NoteMention.objects.filter(user=user, read_at__isnull=True, note__conversation=conversation).update(
        read_at=timezone.now()
    )
    if marked:
        unread = mention_unread_count(user=user)
        publish("mentions.read", {"conversation_id": conversation.pk, "unread_mentions": unread},
                groups=[groups.user(user.pk)])
    return marked
