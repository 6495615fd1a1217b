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

import json
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import access
from apps.accounts import selectors as account_selectors
from apps.conversations import selectors, services
from apps.conversations.models import Conversation
from apps.media.services import media_upload_create
from apps.messaging.models import Message
from apps.messaging.services.send import message_send
from apps.messaging.validation import SendError

SEND_KINDS = ("text", "location", "interactive", "template")


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
    if not value:
        return None
    try:
        return Message.objects.get(pk=int(value), conversation=conversation)
    except (Message.DoesNotExist, ValueError, TypeError):
        raise SendError("reply_to", "not_found", _("The message replied to is not in this conversation.")) from None


def WINDOW_CLOSED() -> str:
    return _("More than 24 hours since the customer last wrote: only an approved template can be sent.")


def _interactive_payload(post) -> dict:
    """The builder's flat fields: up to 3 button titles, or sections and their rows
    (each row names its section by index). Ids are given in order (b1.., r1..)."""
    payload = {"type": post.get("itype", "button"), "body": post.get("ibody", "")}
    for key in ("header", "footer"):
        if post.get(f"i{key}", "").strip():
            payload[key] = post.get(f"i{key}").strip()
    if payload["type"] == "button":
        titles = [t.strip() for t in post.getlist("button_title")]
        payload["buttons"] = [{"id": f"b{i + 1}", "title": t} for i, t in enumerate(titles) if t]
    elif payload["type"] == "list":
        payload["button"] = post.get("list_button", "").strip()
        sections = [{"title": t.strip(), "rows": []} for t in post.getlist("section_title")] or [{"title": "", "rows": []}]
        rows = zip(post.getlist("row_section"), post.getlist("row_title"), post.getlist("row_description"))
        for index, (section, title, description) in enumerate(rows):
            if not title.strip() and not description.strip():
                continue
            try:
                target = sections[int(section or 0)]
            except (ValueError, IndexError):
                raise SendError("interactive.sections", "invalid", _("A row names a section that does not exist.")) from None
            row = {"id": f"r{index + 1}", "title": title.strip()}
            if description.strip():
                row["description"] = description.strip()
            target["rows"].append(row)
        for section in sections:
            if not section["title"]:
                section.pop("title")
        payload["sections"] = sections
    return payload


def _payload(kind: str, post, *, conversation, user) -> dict:
    if kind == "text":
        return {"body": post.get("body", "")}
    if kind == "location":
        return {k: post.get(k, "").strip() for k in ("latitude", "longitude", "name", "address")}
    if kind == "interactive":
        return _interactive_payload(post)
    template = template_get(user=user, conversation=conversation, pk=post.get("template"))
    return template_payload(template=template, post=post)


# --- Read helpers for the panels and the template picker (scoped to the user) --------


def actions_context(*, user, conversation) -> dict:
    """What the actions panel shows and offers: choices follow apps.accounts.access."""
    supervisor = user.is_supervisor_or_admin
    users = list(account_selectors.user_list(user=user)) if supervisor else []
    teams = list(account_selectors.team_list(user=user)) if supervisor else []
    current = set(conversation.labels.values_list("pk", flat=True))
    labels = [{"label": label, "on": label.pk in current} for label in selectors.label_list(user=user)]
    return {
        "conversation": conversation,
        "user": user,
        "can_act": access.can_act_on_conversation(user, conversation),
        "can_assign_others": supervisor,
        "can_take": access.can_assign(user, conversation, assignee=user) and conversation.assignee_id != user.pk,
        "can_release": conversation.assignee_id is not None and access.can_assign(user, conversation, assignee=None),
        "users": users,
        "teams": teams,
        "labels": labels,
        "statuses": Conversation.Status.choices,
        "priorities": Conversation.Priority.choices,
        "snooze_default": (timezone.localtime() + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
    }


def contact_context(*, user, conversation) -> dict:
    contact = conversation.contact
    previous = (
        Conversation.objects.filter(access.conversation_filter(user), contact=contact)
        .exclude(pk=conversation.pk)
        .order_by("-created_at", "-id")[:20]
    )
    return {
        "conversation": conversation,
        "contact": contact,
        "can_edit": access.can_edit_contact(user, contact),
        "previous": list(previous),
        "attributes": sorted((contact.attributes or {}).items()),
    }


def templates_for(*, user, conversation, query: str = "", language=None) -> list:
    """Approved templates of the conversation's number (selector of the templates app)."""
    from apps.message_templates.selectors import template_list_for_user

    if not access.can_view_conversation(user, conversation):
        return []
    return list(template_list_for_user(user=user, number=conversation.number, language=language,
                                       query=(query or "")[:100], sendable_only=True)[:50])


def template_get(*, user, conversation, pk):
    from apps.message_templates.selectors import template_get_for_user

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise SendError("template", "required", _("Choose a template.")) from None
    template = template_get_for_user(user=user, template_id=pk)
    if template is None or not access.can_view_conversation(user, conversation):
        raise Http404
    if conversation.number.waba_id and template.waba_id != conversation.number.waba_id:
        raise Http404
    return template


def _contact_values(contact) -> dict:
    """Contact fields a parameter is prefilled from, by the parameter's name."""
    first = (contact.name or contact.profile_name or "").split(" ")[0]
    values = {"name": contact.display_name, "contact_name": contact.display_name, "customer_name": contact.display_name,
              "first_name": first, "phone": contact.phone, "wa_id": contact.wa_id}
    for key, value in (contact.attributes or {}).items():
        if value not in (None, ""):
            values[str(key)] = str(value)
    return values


def _slot_fields(*, conversation, template, given) -> list[dict]:
    """The picker's fields, one per parameter slot of the template (render.slots)."""
    from apps.message_templates.render import slots

    prefill = _contact_values(conversation.contact)
    fields = []
    for slot in slots(template):
        name = f"slot_{slot['slot']}"
        if given is not None:
            value = given.get(name, "")
        else:
            value = prefill.get(slot["key"], "") if slot["kind"] == "text" else ""
        label = {"header": _("Header"), "body": _("Body"), "buttons": _("Button")}.get(slot["component"], "")
        display = slot.get("label") or slot["kind"] if slot["component"] == "buttons" else (
            "{{%s}}" % slot["key"] if slot["key"] else slot["kind"])
        fields.append({**slot, "name": name, "value": value, "label": label, "display": display,
                       "input": "url" if slot["kind"] in ("image", "video", "document") else "text"})
    return fields


def _parameters(template, fields, *, placeholder_empty: bool) -> dict:
    """render.template_render's parameters from the fields; for a preview an empty
    value shows as its placeholder."""
    named = template.parameter_format == "NAMED"
    header, body, buttons = {}, {}, {}
    for f in fields:
        value = f["value"].strip()
        if not value:
            if not placeholder_empty or f["kind"] not in ("text",):
                continue
            value = "[%s]" % f["key"]
        if f["component"] == "header":
            header = {"link": value} if f["kind"] in ("image", "video", "document") else {**header, f["key"]: value}
        elif f["component"] == "body":
            body[f["key"]] = value
        else:
            buttons[f["key"]] = value
    parameters = {}
    if header:
        if "link" in header or named:
            parameters["header"] = header
        else:
            parameters["header"] = [header[k] for k in sorted(header, key=lambda k: int(k) if k.isdigit() else 0)]
    if body:
        parameters["body"] = body
    if buttons:
        parameters["buttons"] = buttons
    return parameters


def template_form_context(*, conversation, template, given) -> dict:
    """The fields of `template` with their values (typed, or prefilled from the
    contact), the exact preview (render.template_render) and what is missing."""
    from apps.message_templates.render import template_render

    fields = _slot_fields(conversation=conversation, template=template, given=given)
    errors = [
        _("%(component)s parameter %(key)s is empty.") % {"component": f["label"], "key": f["display"]}
        for f in fields if f["required"] and not f["value"].strip()
    ]
    rendered = None
    try:
        rendered = template_render(template=template, parameters=_parameters(template, fields, placeholder_empty=True))
    except SendError as exc:
        errors.append(exc.message)
    return {"template": template, "fields": fields, "rendered": rendered, "preview_errors": errors}


def template_payload(*, template, post) -> dict:
    """message_send's template payload from the picker's fields."""
    from apps.message_templates.render import slots

    fields = [{**slot, "value": post.get(f"slot_{slot['slot']}", "")} for slot in slots(template)]
    return {"name": template.name, "language": template.language,
            **_parameters(template, fields, placeholder_empty=False)}


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
    """Text, location, interactive (buttons or list) or template, optionally as a reply."""
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
                    payload={"message": request.POST.get("message"), "emoji": request.POST.get("emoji", "")})
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
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
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
    moment = parse_datetime((value or "").strip()) if value else None
    if moment is None:
        raise ValidationError(_("Snooze until: choose a date and time."))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
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
        priority = _int_or_none(request.POST.get("priority"), _("Priority"))
        if priority is None:
            raise ValidationError(_("Priority: choose one of the list."))
    except ValidationError as exc:
        return _actions_panel(request, conversation, errors=_errors(exc), status=422)
    return _run_action(request, conversation, services.conversation_set_priority, priority=priority)


@login_required
@require_POST
def set_bot(request, pk):
    conversation = _conversation(request, pk)
    active = request.POST.get("active") in ("1", "true", "on")
    return _run_action(request, conversation, services.conversation_set_bot, active=active)


@login_required
@require_POST
def add_note(request, pk):
    """A private note; @username mentions notify those colleagues."""
    conversation = _conversation(request, pk)
    body = request.POST.get("body", "")
    try:
        services.note_create(conversation=conversation, author=request.user, body=body)
    except (ValidationError, PermissionDenied) as exc:
        response = render(request, "inbox/panel/_note_form.html",
                          {"conversation": conversation, "errors": _errors(exc), "body": body})
        response.status_code = 422
        return response
    response = render(request, "inbox/panel/_note_form.html", {"conversation": conversation, "errors": [], "body": ""})
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
    try:
        services.contact_set_opt_out(
            contact=conversation.contact, actor=request.user,
            opted_out=request.POST.get("opted_out") in ("1", "true", "on"),
            reason=request.POST.get("reason", "").strip(),
        )
    except (ValidationError, PermissionDenied) as exc:
        return _contact_panel(request, conversation, errors=_errors(exc), status=422)
    return _contact_panel(request, conversation)
