"""Composer and conversation actions of the browser inbox.

Thin htmx views: each reads its form, calls one use-case (apps.conversations.services,
apps.messaging.services.send.message_send, apps.media.services.media_upload_create)
and answers with the re-rendered partial. A refusal keeps what the agent typed: the
composer answers 422 with the reason (htmx swaps it next to the composer, see
static/inbox/composer.js), the panels re-render with the error inline.
Who may do what is decided by apps.accounts.access (through the selectors and the
services); a conversation the user may not see is "not found".
"""

from __future__ import annotations

import datetime
import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import access
from apps.accounts import selectors as account_selectors
from apps.bot.services import conversation_bot_set
from apps.conversations import selectors, services
from apps.conversations.models import Conversation
from apps.core import params
from apps.media.services import media_upload_create
from apps.messaging.models import Message
from apps.messaging.services.send import message_send
from apps.messaging.validation import SendError

from .composer_assets import contacts_payload
from .interactive import interactive_payload, interactive_preview_context
from .panels import actions_context, contact_context
from .template_picker import template_form_context, template_get, template_payload, templates_for

SEND_KINDS = ("text", "location", "interactive", "template", "contacts")


def _conversation(request, pk) -> Conversation:
    return selectors.conversation_get(user=request.user, pk=pk)


def _errors(exc) -> list[str]:
    if isinstance(exc, SendError):
        return [exc.message]
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [str(exc) or _("You may not do this.")]


def _send_result(request, conversation, *, errors=None, field: str = "") -> HttpResponse:
    """The composer's status area: empty after a send (and an HX-Trigger telling the
    composer to clear itself), the reason with status 422 after a refusal."""
    response = render(
        request, "inbox/composer/_result.html", {"conversation": conversation, "errors": errors or [], "field": field}
    )
    if errors:
        response.status_code = 422
    else:
        response["HX-Trigger"] = json.dumps({"composer:sent": {"conversation_id": conversation.pk}})
    return response


def _reply_to(conversation, value):
    try:
        pk = params.positive_id(value, field="reply_to")
        return Message.objects.get(pk=pk, conversation=conversation) if pk is not None else None
    except (Message.DoesNotExist, params.BadParameter):
        raise SendError("reply_to", "not_found", _("The message replied to is not in this conversation.")) from None


def _message_id(value) -> int | None:
    """The id of the message reacted to: refused here when it is no id at all."""
    try:
        return params.positive_id(value, field="message")
    except params.BadParameter:
        raise SendError("reaction.message", "not_found",
                        _("React to a message of this conversation that reached WhatsApp.")) from None


def WINDOW_CLOSED() -> str:
    return _("More than 24 hours since the customer last wrote: only an approved template can be sent.")


def _payload(kind: str, post, *, conversation, user) -> dict:
    if kind == "text":
        return {"body": post.get("body", "")}
    if kind == "location":
        return {k: post.get(k, "").strip() for k in ("latitude", "longitude", "name", "address")}
    if kind == "interactive":
        return interactive_payload(post)
    if kind == "contacts":
        return contacts_payload(post, user=user)
    template = template_get(user=user, conversation=conversation, pk=post.get("template"))
    return template_payload(template=template, post=post)


def _require_act(request, conversation) -> None:
    """message_send does not check access itself: every composer door asks here first."""
    if not access.can_act_on_conversation(request.user, conversation):
        raise PermissionDenied(_("You may not act on this conversation."))


def _agent_send(request, conversation, *, kind: str, payload: dict, reply_to: str | None = None) -> None:
    """Send as the signed-in agent (after `_require_act`), optionally as a reply."""
    message_send(
        conversation=conversation,
        author=request.user,
        kind=kind,
        payload=payload,
        reply_to=_reply_to(conversation, reply_to),
    )


@login_required
@require_POST
def send(request, pk):
    """Text, location, interactive (buttons, list, link, location request, Flow, products),
    contact card or template, optionally as a reply."""
    conversation = _conversation(request, pk)
    kind = request.POST.get("kind", "text")
    try:
        if kind not in SEND_KINDS:
            raise SendError("kind", "invalid", _("Unknown message type %(kind)s.") % {"kind": kind})
        _require_act(request, conversation)
        _agent_send(request, conversation, kind=kind,
                    payload=_payload(kind, request.POST, conversation=conversation, user=request.user),
                    reply_to=request.POST.get("reply_to"))
    except (SendError, ValidationError, PermissionDenied) as exc:
        return _send_result(request, conversation, errors=_errors(exc), field=getattr(exc, "field", ""))
    return _send_result(request, conversation)


@login_required
@require_POST
def send_file(request, pk):
    """A file (picked, dropped or pasted) stored and sent as the kind its content
    shows: image, video, audio or document, with an optional caption."""
    conversation = _conversation(request, pk)
    uploaded = request.FILES.get("file")
    try:
        _require_act(request, conversation)
        if uploaded is None:
            raise SendError("file", "required", _("Choose a file to send."))
        if not conversation.window_open():  # refuse before storing the file
            raise SendError("type", "window_closed", WINDOW_CLOSED())
        media = media_upload_create(
            organization=conversation.organization, uploaded_file=uploaded, user=request.user
        )
        payload = {"media": media.pk}
        caption = request.POST.get("caption", "").strip()
        if caption:
            payload["caption"] = caption
        _agent_send(request, conversation, kind=media.kind, payload=payload,
                    reply_to=request.POST.get("reply_to"))
    except (SendError, ValidationError, PermissionDenied) as exc:
        return _send_result(request, conversation, errors=_errors(exc), field=getattr(exc, "field", "file"))
    return _send_result(request, conversation)


@login_required
@require_POST
def react(request, pk):
    """React to a message with an emoji; an empty emoji removes the reaction."""
    conversation = _conversation(request, pk)
    try:
        _require_act(request, conversation)
        _agent_send(request, conversation, kind="reaction",
                    payload={"message": _message_id(request.POST.get("message")), "emoji": request.POST.get("emoji", "")})
    except (SendError, ValidationError, PermissionDenied) as exc:
        return _send_result(request, conversation, errors=_errors(exc))
    return _send_result(request, conversation)


# --- Suggestions for the composer ----------------------------------------------------


@login_required
@require_GET
def canned(request, pk):
    """The organisation's canned responses matching "/shortcut"."""
    _conversation(request, pk)
    q = request.GET.get("q", "").lstrip("/")
    rows = selectors.canned_response_list(user=request.user).filter(shortcut__istartswith=q)[:10]
    if not rows and q:
        rows = selectors.canned_response_list(user=request.user, q=q)[:10]
    return JsonResponse({"results": [{"shortcut": r.shortcut, "body": r.body} for r in rows]})


@login_required
@require_GET
def mentions(request, pk):
    """Colleagues to mention in a note, matching "@name"."""
    _conversation(request, pk)
    q = request.GET.get("q", "").lstrip("@").strip()[:150]
    users = account_selectors.user_list(user=request.user)
    if q:
        users = users.filter(username__istartswith=q) | users.filter(first_name__istartswith=q)
    return JsonResponse({"results": [
        {"id": u.pk, "username": u.username, "name": u.name} for u in users.distinct().order_by("username")[:10]
    ]})


@login_required
@require_GET
def templates(request, pk):
    """The template picker: approved templates of the conversation's number."""
    conversation = _conversation(request, pk)
    found = templates_for(
        user=request.user, conversation=conversation, query=request.GET.get("q", ""),
        language=request.GET.get("language") or None,
    )
    return render(request, "inbox/composer/_templates.html", {"conversation": conversation, "templates": found})


@login_required
@require_POST
def interactive_preview(request, pk):
    """The buttons or list message being written, as the customer will see it, and
    what would stop it from being sent."""
    conversation = _conversation(request, pk)
    return render(request, "inbox/composer/_interactive_preview.html",
                  {"conversation": conversation, **interactive_preview_context(request.POST)})


@login_required
@require_GET
def template_form(request, pk, template_id):
    """One template's parameters (prefilled from the contact) and its preview."""
    conversation = _conversation(request, pk)
    template = template_get(user=request.user, conversation=conversation, pk=template_id)
    context = template_form_context(conversation=conversation, template=template, given=None)
    return render(request, "inbox/composer/_template_form.html", {"conversation": conversation, **context})


@login_required
@require_POST
def template_preview(request, pk, template_id):
    """The exact text the customer will see with the parameters typed so far."""
    conversation = _conversation(request, pk)
    template = template_get(user=request.user, conversation=conversation, pk=template_id)
    context = template_form_context(conversation=conversation, template=template, given=request.POST)
    return render(request, "inbox/composer/_template_preview.html", {"conversation": conversation, **context})


# --- Side panel: conversation actions ---------------------------------------------------


def _actions_panel(request, conversation, *, errors=None, status=200) -> HttpResponse:
    context = actions_context(user=request.user, conversation=conversation)
    response = render(request, "inbox/panel/_actions_body.html", {**context, "errors": errors or []})
    response.status_code = status
    return response


def _run_action(request, conversation, use_case, **kwargs) -> HttpResponse:
    try:
        use_case(conversation=conversation, actor=request.user, **kwargs)
    except (ValidationError, PermissionDenied) as exc:
        conversation.refresh_from_db()
        return _actions_panel(request, conversation, errors=_errors(exc), status=422)
    return _actions_panel(request, conversation)


@login_required
@require_GET
def actions_panel(request, pk):
    return _actions_panel(request, _conversation(request, pk))


def _int_or_none(value, field):
    try:
        return params.positive_id(value, field=field)
    except params.BadParameter:
        raise ValidationError(_("%(field)s: choose one of the list.") % {"field": field}) from None


@login_required
@require_POST
def assign(request, pk):
    """Assign to a colleague or team ("me" takes it, empty releases it)."""
    conversation = _conversation(request, pk)
    try:
        raw = request.POST.get("assignee", "")
        assignee = request.user if raw == "me" else None
        assignee_id = None if raw == "me" else _int_or_none(raw, _("Assignee"))
        if assignee_id is not None:
            assignee = account_selectors.user_list(user=request.user).filter(pk=assignee_id).first()
            if assignee is None:
                raise ValidationError(_("Assignee: unknown or deactivated user."))
        kwargs = {"assignee": assignee}
        if "team" in request.POST:
            team_id = _int_or_none(request.POST.get("team"), _("Team"))
            team = None
            if team_id is not None:
                team = account_selectors.team_list(user=request.user).filter(pk=team_id).first()
                if team is None:
                    raise ValidationError(_("Team: unknown team."))
            if team_id != conversation.team_id:
                kwargs.update(team=team, set_team=True)
    except ValidationError as exc:
        return _actions_panel(request, conversation, errors=_errors(exc), status=422)
    return _run_action(request, conversation, services.conversation_assign, **kwargs)


def _snooze_time(value: str):
    """An ISO time with offset (the composer sends one), or a naive local time
    read in the current time zone."""
    try:
        moment = parse_datetime((value or "").strip()) if value else None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if moment is not None:
            moment.astimezone(datetime.timezone.utc)  # a time that cannot be stored in UTC raises here
    except (ValueError, OverflowError):  # well formed but impossible: February 30th, year 10000
        moment = None
    if moment is None:
        raise ValidationError(_("Snooze until: choose a date and time."))
    return moment


@login_required
@require_POST
def set_status(request, pk):
    """Resolve, reopen, pending, or snooze until a chosen time."""
    conversation = _conversation(request, pk)
    status = request.POST.get("status", "")
    snoozed_until = None
    if status == Conversation.Status.SNOOZED:
        try:
            snoozed_until = _snooze_time(request.POST.get("snoozed_until", ""))
        except ValidationError as exc:
            return _actions_panel(request, conversation, errors=_errors(exc), status=422)
    return _run_action(request, conversation, services.conversation_set_status, status=status, snoozed_until=snoozed_until)


@login_required
@require_POST
def toggle_label(request, pk):
    conversation = _conversation(request, pk)
    try:
        label_id = _int_or_none(request.POST.get("label"), _("Label"))
        if label_id is None:
            raise ValidationError(_("Label: choose one of the list."))
    except ValidationError as exc:
        return _actions_panel(request, conversation, errors=_errors(exc), status=422)
    current = set(conversation.labels.values_list("pk", flat=True))
    wanted = current - {label_id} if label_id in current else current | {label_id}
    return _run_action(request, conversation, services.conversation_set_labels, label_ids=sorted(wanted))


@login_required
@require_POST
def set_priority(request, pk):
    conversation = _conversation(request, pk)
    try:
        priority = params.bounded_int(request.POST.get("priority"), field="priority", minimum=0, maximum=32767)
    except params.BadParameter:
        priority = None
    if priority is None:
        error = ValidationError(_("Priority: choose one of the list."))
        return _actions_panel(request, conversation, errors=_errors(error), status=422)
    return _run_action(request, conversation, services.conversation_set_priority, priority=priority)


@login_required
@require_POST
def set_bot(request, pk):
    conversation = _conversation(request, pk)
    active = request.POST.get("active") in ("1", "true", "on")
    return _run_action(request, conversation, conversation_bot_set, active=active)


# The note forms, by where they are: each answers with itself, emptied or with the errors.
NOTE_FORMS = {"panel": "inbox/panel/_note_form.html", "composer": "inbox/composer/_note_form.html"}


@login_required
@require_POST
def add_note(request, pk):
    """A private note, from the side panel or the composer's Note tab (form=composer:
    the answer is that form again); @username mentions notify those colleagues."""
    conversation = _conversation(request, pk)
    body = request.POST.get("body", "")
    template = NOTE_FORMS.get(request.POST.get("form", ""), NOTE_FORMS["panel"])
    try:
        services.note_create(conversation=conversation, author=request.user, body=body)
    except (ValidationError, PermissionDenied) as exc:
        response = render(request, template, {"conversation": conversation, "errors": _errors(exc), "body": body})
        response.status_code = 422
        return response
    response = render(request, template, {"conversation": conversation, "errors": [], "body": ""})
    response["HX-Trigger"] = json.dumps({"note:created": {"conversation_id": conversation.pk}})
    return response


# --- Side panel: the contact -------------------------------------------------------------


def _contact_panel(request, conversation, *, errors=None, status=200, form=None) -> HttpResponse:
    context = contact_context(user=request.user, conversation=conversation)
    response = render(request, "inbox/panel/_contact_body.html", {**context, "errors": errors or [], "form": form})
    response.status_code = status
    return response


@login_required
@require_GET
def contact_panel(request, pk):
    return _contact_panel(request, _conversation(request, pk))


def _attributes(post) -> dict:
    keys, values = post.getlist("attr_key"), post.getlist("attr_value")
    attributes = {}
    for index, (key, value) in enumerate(zip(keys, values)):
        key = key.strip()
        if not key:
            if value.strip():
                raise ValidationError(_("Attribute %(n)d: a value needs a name.") % {"n": index + 1})
            continue
        if key in attributes:
            raise ValidationError(_("Attribute %(key)s appears twice.") % {"key": key})
        attributes[key] = value
    return attributes


@login_required
@require_POST
def update_contact(request, pk):
    """The contact's name and attributes."""
    conversation = _conversation(request, pk)
    contact = conversation.contact
    try:
        services.contact_update(
            contact=contact, actor=request.user, name=request.POST.get("name", ""), attributes=_attributes(request.POST)
        )
    except (ValidationError, PermissionDenied) as exc:
        contact.refresh_from_db()
        form = {"name": request.POST.get("name", ""),
                "attributes": list(zip(request.POST.getlist("attr_key"), request.POST.getlist("attr_value")))}
        return _contact_panel(request, conversation, errors=_errors(exc), status=422, form=form)
    return _contact_panel(request, conversation)


@login_required
@require_POST
def set_opt_out(request, pk):
    """Record or clear the contact's opt-out of everything the business sends."""
    conversation = _conversation(request, pk)
    opting_out = request.POST.get("opted_out") in ("1", "true", "on")
    if opting_out and request.POST.get("confirm") not in ("1", "true", "on"):
        # Recording an opt-out stops every message to the customer: it is confirmed first.
        error = ValidationError(_("Confirm that the customer asked to receive no more messages."))
        return _contact_panel(request, conversation, errors=_errors(error), status=422)
    try:
        services.contact_set_opt_out(
            contact=conversation.contact, actor=request.user,
            opted_out=opting_out,
            reason=request.POST.get("reason", "").strip(),
        )
    except (ValidationError, PermissionDenied) as exc:
        return _contact_panel(request, conversation, errors=_errors(exc), status=422)
    return _contact_panel(request, conversation)
