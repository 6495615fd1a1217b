"""What the inbox templates show, computed from rows already loaded (no queries here).

Kept apart from the views so that the page and the live partials present a message,
a row or a day in exactly one way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy

from apps.conversations.models import Conversation
from apps.messaging.models import Author, Direction, MessageType, Status

from . import presenters_commerce, presenters_meta
from .presenters_template import template_view

# --- The list ---------------------------------------------------------------------


def view_links(counts: dict | None = None):
    """(view, label, how many it holds or None) for each view of the list."""
    counts = counts or {}
    return [(value, label, counts.get(value)) for value, label in (
        ("mine", gettext_lazy("Mine")), ("unassigned", pgettext_lazy("inbox view", "Unassigned")),
        ("all", gettext_lazy("All")), ("mentions", gettext_lazy("Mentions")))]


def status_links():
    return [
        ("open", gettext_lazy("Open")), ("pending", gettext_lazy("Pending")), ("snoozed", gettext_lazy("Snoozed")),
        ("resolved", gettext_lazy("Resolved")), ("any", gettext_lazy("Any status")),
    ]


def sort_links():
    return [("newest", gettext_lazy("Newest")), ("oldest", gettext_lazy("Oldest")),
            ("waiting", gettext_lazy("Waiting longest")), ("priority", gettext_lazy("Priority"))]


def filter_query(filters, sort: str = "newest") -> str:
    """The query string that describes an inbox view (kept on links and live checks);
    the status only when it was chosen (a search without one spans every status)."""
    params = {"view": filters.view}
    if filters.status_chosen:
        params["status"] = filters.status
    if filters.number_id is not None:
        params["number"] = filters.number_id
    if filters.label_id is not None:
        params["label"] = filters.label_id
    if filters.q:
        params["q"] = filters.q
    if sort != "newest":
        params["sort"] = sort
    return urlencode(params)


def phone_display(digits: str) -> str:
    """A WhatsApp id (the number's digits, country code first) written as people read
    it: "+55 11 98765-4321"; as it came when it is no phone number we know."""
    if not digits:
        return ""
    try:
        number = phonenumbers.parse(f"+{digits.lstrip('+')}", None)
    except phonenumbers.NumberParseException:
        return f"+{digits.lstrip('+')}" if digits.lstrip("+").isdigit() else digits
    if not phonenumbers.is_possible_number(number):
        return f"+{digits.lstrip('+')}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def contact_name(contact) -> str:
    """The contact's name, or their phone number written as people read it."""
    if contact.name or contact.profile_name or contact.username:
        return contact.display_name
    return phone_display(contact.wa_id) if contact.wa_id else contact.display_name


def initials(name: str) -> str:
    """Up to two letters for an avatar: the first and last words' initials."""
    words = [w for w in name.replace("+", " ").split() if w[:1].isalpha()]
    if not words:
        return "#"
    if len(words) == 1:
        return words[0][:1].upper()
    return (words[0][:1] + words[-1][:1]).upper()


def avatar_hue(key: str) -> int:
    """A stable hue (0–359) per contact, so that a face keeps its colour."""
    return int(hashlib.blake2s(key.encode(), digest_size=2).hexdigest(), 16) % 360


def relative_time(value: datetime | None, *, now: datetime) -> str:
    """How long ago, as a list shows it: "now", "3 min", "14:05" earlier today,
    "Yesterday", a weekday within the week, else the date (in the active time zone)."""
    if value is None:
        return ""
    seconds = (now - value).total_seconds()
    if seconds < 60:
        return _("now")
    if seconds < 3600:
        minutes = int(seconds // 60)
        return ngettext("%(n)d min", "%(n)d min", minutes) % {"n": minutes}
    local, today = timezone.localtime(value), timezone.localtime(now).date()
    if local.date() == today:
        return formats.time_format(local)
    if local.date() == today - timedelta(days=1):
        return _("Yesterday")
    if today - local.date() < timedelta(days=7):
        return formats.date_format(local, "l")
    return formats.date_format(local, "SHORT_DATE_FORMAT")


PRIORITY_CLASSES = {Conversation.Priority.LOW: "low", Conversation.Priority.MEDIUM: "medium",
                    Conversation.Priority.HIGH: "high", Conversation.Priority.URGENT: "urgent"}


@dataclass
class Row:
    """One row of the list, every text of it computed here once (the template only
    places them): a page renders 30 of them, and each template lookup, translation
    and date format costs more than the same work done in Python for all rows."""

    conversation: Conversation
    window_open: bool
    window_closes_at: datetime | None
    activity: str  # ISO timestamp the client sorts rows by
    labels: list = field(default_factory=list)
    name: str = ""
    initials: str = ""
    hue: int = 0
    when: str = ""  # relative: "3 min", "Yesterday"
    priority: str = ""  # "low" … "urgent", or "" for none
    url: str = ""  # the conversation's page, without the list's query
    time_iso: str = ""  # the last message's time, in the active time zone
    time_title: str = ""  # the same as a short date and time
    unread_label: str = ""  # "3 unread messages"
    priority_label: str = ""
    status_label: str = ""
    window_title: str = ""  # until when the window is open, or why it is closed
    window_label: str = ""
    assignee: str = ""  # the assignee's name, or "Unassigned"


def _row_texts() -> dict:
    """The rows' fixed texts, translated once per list rather than once per row."""
    return {
        "statuses": {value: str(label) for value, label in Conversation.Status.choices},
        "priorities": {value: str(label) for value, label in Conversation.Priority.choices},
        "open_until": _("Customer service window open until"),
        "open": _("24h open"),
        "closed_title": _("Only templates can be sent"),
        "closed": _("Window closed"),
        "unassigned": pgettext("one conversation", "Unassigned"),
    }


def conversation_rows(conversations, *, labels, now=None) -> list[Row]:
    """The list's rows of `conversations` (inbox_filtered's, with `label_ids`);
    `labels`: the organisation's labels by name (label_list), which they name."""
    now = now or timezone.now()
    texts = _row_texts()
    by_id = {label.pk: (position, label) for position, label in enumerate(labels)}
    url = reverse("inbox:conversation", args=[0]).replace("/0/", "/{}/")
    rows = []
    for conversation in conversations:
        expires = conversation.window_expires_at
        window_open = expires is not None and now < expires
        last = conversation.last_message_at
        local = timezone.localtime(last) if last else None
        unread = conversation.unread_count
        assignee = conversation.assignee if conversation.assignee_id else None
        rows.append(Row(
            conversation=conversation,
            window_open=window_open,
            window_closes_at=expires,
            activity=last.isoformat() if last else "",
            labels=[label for _position, label in sorted(by_id[pk] for pk in conversation.label_ids if pk in by_id)],
            name=(name := contact_name(conversation.contact)),
            initials=initials(name),
            hue=avatar_hue(str(conversation.contact_id)),
            when=relative_time(last, now=now),
            priority=PRIORITY_CLASSES.get(conversation.priority, ""),
            url=url.format(conversation.pk),
            time_iso=local.isoformat() if local else "",
            time_title=formats.date_format(local, "SHORT_DATETIME_FORMAT") if local else "",
            unread_label=ngettext("%(n)s unread message", "%(n)s unread messages", unread) % {"n": unread}
            if unread else "",
            priority_label=texts["priorities"].get(conversation.priority, conversation.priority),
            status_label=texts["statuses"].get(conversation.status, conversation.status),
            window_title=f"{texts['open_until']} {formats.date_format(timezone.localtime(expires), 'SHORT_DATETIME_FORMAT')}"
            if window_open else texts["closed_title"],
            window_label=texts["open"] if window_open else texts["closed"],
            assignee=assignee.name if assignee else texts["unassigned"],
        ))
    return rows


# --- The thread -------------------------------------------------------------------


def zone_of(organization) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(organization, "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_label(day: date, *, today: date) -> str:
    if day == today:
        return _("Today")
    if (today - day).days == 1:
        return _("Yesterday")
    return formats.date_format(day, "DATE_FORMAT")


TICKS = {
    Status.PENDING: ("🕓", gettext_lazy("Pending")),
    Status.SENT: ("✓", gettext_lazy("Sent")),
    Status.DELIVERED: ("✓✓", gettext_lazy("Delivered")),
    Status.READ: ("✓✓", gettext_lazy("Read")),
    Status.PLAYED: ("✓✓", gettext_lazy("Played")),
    Status.FAILED: ("!", gettext_lazy("Failed")),
}


def author_label(message) -> str:
    if message.author_type == Author.CUSTOMER:
        return _("Customer")
    if message.author_type == Author.AGENT:
        return message.author.name if message.author_id and message.author else _("Agent")
    if message.author_type == Author.BOT:
        return _("Bot")
    if message.author_type == Author.INTEGRATION:
        return _("Business system")
    if message.author_type == Author.BUSINESS_APP:
        return _("WhatsApp Business app")
    return _("System")


def _map_link(latitude, longitude) -> str | None:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=16/{lat:.6f}/{lon:.6f}"


def _contact_cards(content) -> list[dict]:
    cards = []
    for card in content.get("contacts") or []:
        if not isinstance(card, dict):
            continue
        name = card.get("name") if isinstance(card.get("name"), dict) else {}
        org = card.get("org") if isinstance(card.get("org"), dict) else {}
        cards.append({
            "name": name.get("formatted_name") or " ".join(
                str(name.get(k)) for k in ("first_name", "last_name") if name.get(k)),
            "company": org.get("company", ""),
            "phones": [p for p in card.get("phones") or [] if isinstance(p, dict)],
            "emails": [e.get("email") for e in card.get("emails") or [] if isinstance(e, dict) and e.get("email")],
        })
    return cards


def _interactive(content) -> dict:
    """Either the customer's answer (button_reply, list_reply, nfm_reply) or the
    interactive message we sent, as the customer saw it."""
    kind = content.get("type", "")
    if kind in ("button_reply", "list_reply"):
        reply = content.get(kind) if isinstance(content.get(kind), dict) else {}
        return {"answer": reply.get("title", ""), "answer_description": reply.get("description", ""),
                "answer_kind": kind}
    if kind == "nfm_reply":
        return presenters_commerce.flow_answer(content)
    header = content.get("header") if isinstance(content.get("header"), dict) else {}
    body = content.get("body") if isinstance(content.get("body"), dict) else {}
    footer = content.get("footer") if isinstance(content.get("footer"), dict) else {}
    action = content.get("action") if isinstance(content.get("action"), dict) else {}
    buttons = []
    for button in action.get("buttons") or []:
        if isinstance(button, dict):
            reply = button.get("reply") if isinstance(button.get("reply"), dict) else {}
            buttons.append(reply.get("title") or button.get("title") or "")
    if kind == "cta_url":
        parameters = action.get("parameters") if isinstance(action.get("parameters"), dict) else {}
        buttons.append(parameters.get("display_text", ""))
    if kind == "location_request_message":
        buttons.append(_("Send location"))
    buttons += presenters_meta.call_buttons(kind, action.get("parameters"))
    sections = []
    for section in action.get("sections") or []:
        if isinstance(section, dict):
            sections.append({
                "title": section.get("title", ""),
                "rows": [r for r in section.get("rows") or [] if isinstance(r, dict)],
            })
    shown = {
        "header": header.get("text", ""), "body": body.get("text", ""), "footer": footer.get("text", ""),
        "buttons": [b for b in buttons if b], "list_button": action.get("button", ""), "sections": sections,
    }
    return {**shown, **presenters_commerce.commerce_parts(kind, action)}


def interactive_draft(payload: dict) -> dict:
    """An interactive message being written (the send API's payload, not validated yet)
    in the shape `_interactive` gives one that was sent: the thread's template shows both."""
    draft = {
        "header": payload.get("header", ""), "body": payload.get("body", ""), "footer": payload.get("footer", ""),
        "buttons": [button["title"] for button in payload.get("buttons") or []]
        + ([payload["display_text"]] if payload.get("type") == "cta_url" and payload.get("display_text") else [])
        + ([_("Send location")] if payload.get("type") == "location_request_message" else [])
        + presenters_meta.call_buttons(payload.get("type", ""), payload),
        "list_button": payload.get("button", ""),
        "sections": [section for section in payload.get("sections") or [] if section.get("rows")],
    }
    if payload.get("type") in ("flow", "product", "product_list"):
        draft.update(presenters_commerce.commerce_parts(payload["type"], payload))
    return draft


def _unsupported_reason(message) -> str:
    for error in message.errors or []:
        if isinstance(error, dict):
            details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else ""
            text = details or error.get("message") or error.get("title") or ""
            code = error.get("code")
            return f"{text} ({code})" if code else str(text)
    original = (message.content or {}).get("original_type")
    if original:
        return _("Message type “%(type)s” is not supported.") % {"type": original}
    return ""


def _media(message) -> dict | None:
    media = getattr(message, "media", None) if message.is_media else None
    content = message.content or {}
    info = {
        "url": None, "thumbnail_url": None, "state": "", "state_label": "", "error": "",
        "filename": content.get("filename", ""), "size": None, "mime_type": content.get("mime_type", ""),
        "voice": bool(content.get("voice")), "animated": bool(content.get("animated")),
    }
    if media is not None:
        info.update(
            url=reverse("media:open", args=[media.pk]) if media.file else None,
            thumbnail_url=reverse("media:thumbnail", args=[media.pk]) if media.thumbnail else None,
            state=media.state, state_label=media.get_state_display(), error=media.error,
            filename=media.filename or info["filename"], size=media.size, mime_type=media.mime_type or info["mime_type"],
            animated=media.animated or info["animated"],
        )
    return info


def _reply_quote(message) -> dict | None:
    if not message.reply_to_id and not message.reply_to_wamid:
        return None
    original = message.reply_to if message.reply_to_id else None
    # Only a message of the reply's own conversation is quoted: a context stored before
    # inbound replies were scoped may point into another conversation or organisation.
    if original is None or original.conversation_id != message.conversation_id:
        return {"id": None, "author": "", "text": _("A message that is not in this inbox")}
    from apps.messaging.services.inbound import message_preview

    return {"id": original.pk, "author": author_label(original), "text": message_preview(original)}


def message_view(message, *, zone: ZoneInfo | None = None, today: date | None = None, blocked_since=None) -> dict:
    """Everything the message partial shows beyond the row's own fields. `blocked_since`:
    when the customer was blocked on the conversation's number (their later messages
    are flagged)."""
    if zone is None:
        zone = zone_of(message.conversation.organization)
    local = timezone.localtime(message.timestamp, zone)
    today = today or timezone.localtime(timezone.now(), zone).date()
    content = message.content or {}
    deleted = message.status == Status.DELETED
    view = {
        "side": "system" if message.type == MessageType.SYSTEM or message.author_type == Author.SYSTEM
        else ("in" if message.direction == Direction.INBOUND else "out"),
        "author": author_label(message),
        "time": local,
        "day": local.date().isoformat(),
        "day_label": day_label(local.date(), today=today),
        "deleted": deleted,
        "tick": None,
        "reactions": [r for r in message.reactions.all()],
        "reply": _reply_quote(message),
        "content": content,
        "business_app": message.author_type == Author.BUSINESS_APP,
        "imported": message.imported,
        "referral": presenters_meta.referral_view(message.referral) if message.referral else None,
        "after_block": bool(blocked_since and message.direction == Direction.INBOUND
                            and message.timestamp >= blocked_since),
    }
    if message.direction == Direction.OUTBOUND and message.status in TICKS:
        symbol, label = TICKS[message.status]
        view["tick"] = {"status": message.status, "symbol": symbol, "label": label}
    if deleted:
        return view
    kind = message.type
    if message.is_media:
        view["media"] = _media(message)
    elif kind == MessageType.LOCATION:
        view["map_url"] = _map_link(content.get("latitude"), content.get("longitude"))
    elif kind == MessageType.CONTACTS:
        view["cards"] = _contact_cards(content)
    elif kind == MessageType.INTERACTIVE:
        view["interactive"] = (presenters_meta.call_permission_answer(content, zone)
                               if content.get("type") == "call_permission_reply" else _interactive(content))
    elif kind == MessageType.CALL:
        view["call"] = presenters_meta.call_view(message)
    elif kind == MessageType.TEMPLATE:
        view["template"] = template_view(message)
    elif kind == MessageType.UNSUPPORTED:
        view["reason"] = _unsupported_reason(message)
    elif kind == MessageType.ORDER:
        view["order"] = presenters_commerce.order_view(content)
    elif kind == MessageType.REACTION:
        view["emoji"] = content.get("emoji", "")
    return view


@dataclass
class Entry:
    kind: str  # "message", "note" or "day"
    obj: object = None
    view: dict | None = None
    label: str = ""
    day: str = ""


def thread_entries(items, *, organization, blocked_since=None) -> list[Entry]:
    """The thread's items with a day separator (in the organisation's time zone)
    wherever the day changes."""
    zone = zone_of(organization)
    today = timezone.localtime(timezone.now(), zone).date()
    entries, last_day = [], None
    for item in items:
        local_day = timezone.localtime(item.at, zone).date()
        if local_day != last_day:
            entries.append(Entry("day", label=day_label(local_day, today=today), day=local_day.isoformat()))
            last_day = local_day
        if item.kind == "message":
            entries.append(Entry("message", obj=item.obj, view=message_view(item.obj, zone=zone, today=today,
                                                                          blocked_since=blocked_since)))
        else:
            entries.append(Entry("note", obj=item.obj, day=local_day.isoformat()))
    return entries


def edit_history(message) -> list[dict]:
    entries = []
    for entry in message.edit_history or []:
        if not isinstance(entry, dict):
            continue
        from django.utils.dateparse import parse_datetime

        when = parse_datetime(str(entry.get("edited_at", ""))) if entry.get("edited_at") else None
        entries.append({"text": entry.get("text", ""), "at": when})
    return entries
