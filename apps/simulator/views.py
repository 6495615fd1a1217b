"""The simulator's own pages: the control API and the "customer phone"."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.accounts import access
from apps.conversations import access as contact_access
from apps.conversations.models import Contact
from apps.core import params
from apps.whatsapp.models import WhatsAppNumber

from . import phone_calls, phone_commerce, webhooks
from .models import SimulatedMedia, SimulatedMessage, SimulatorConfig

CONTROL_FIELDS = {
    "status_delay": float, "send_status_webhooks": bool, "mark_read": bool, "latency_ms": int,
    "fail_code": int, "fail_count": int, "error_5xx_rate": float, "error_429_rate": float, "retry_after": float,
}


def _may_control(user) -> bool:
    # The failure injection applies to every organisation's numbers: platform staff only.
    return access.is_platform_admin(user)


def _config_data(config: SimulatorConfig) -> dict:
    return {field: getattr(config, field) for field in CONTROL_FIELDS}


@require_http_methods(["GET", "POST"])
def control(request):
    """GET the failure-injection settings; POST a JSON object to change some of them."""
    if not _may_control(request.user):
        return JsonResponse({"detail": _("Platform staff only.")}, status=403)
    config = SimulatorConfig.get()
    if request.method == "POST":
        try:
            changes = json.loads(request.body or b"{}")
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            return JsonResponse({"detail": _("Body must be a JSON object.")}, status=400)
        unknown = set(changes) - set(CONTROL_FIELDS)
        if unknown:
            return JsonResponse(
                {"detail": _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}}, status=400
            )
        for field, value in changes.items():
            try:
                setattr(config, field, None if value is None else CONTROL_FIELDS[field](value))
            except (TypeError, ValueError):
                return JsonResponse({"detail": _("%(field)s: not a valid value.") % {"field": field}}, status=400)
        config.save()
    return JsonResponse(_config_data(config))


# --- the customer phone ------------------------------------------------------------------
# It writes as any customer through the real, signed webhook and shows what the business
# sent them: a testing tool of the organisation's admins (their numbers, their contacts)
# and of platform staff (every organisation's). The guard of request parameters
# (apps/core/middleware.py) does not look at /simulator/, so every value is read here
# through apps/core/params.py.

CUSTOMER_MAX_DIGITS = 20  # E.164 numbers have at most 15; SimulatedMessage.customer holds 32
# Separators a person types in a phone number, dropped before the digits are checked.
_PHONE_SEPARATORS = re.compile(r"[\s+().-]")
_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}")
BUTTON_MAX = 9  # reply buttons are up to 3, list rows up to 10
KINDS = ("text", "image", "document", "audio", "location", "contacts", "button", "list", "reaction", "flow", "order",
         "call_permission")
# What each kind of file may be (a document: any type).
FILE_TYPES = {"image": "image/", "audio": "audio/", "document": ""}
NAMES_KEY = "simulator_customer_names"  # the session's name of each customer played


def _may_play_customers(user) -> bool:
    return access.is_platform_admin(user) or access.can_manage_settings(user)


def phone_view(view):
    """Logged in, an organisation's admin or platform staff; a bad parameter is a 400."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _may_play_customers(request.user):
            raise PermissionDenied
        try:
            return view(request, *args, **kwargs)
        except params.BadParameter as error:
            raise BadRequest(error.message) from None

    return wrapped


def _numbers(user):
    numbers = WhatsAppNumber.objects.filter(is_active=True).order_by("id")
    if access.is_platform_admin(user):
        return numbers
    if not access.can_manage_settings(user):
        return numbers.none()
    return numbers.filter(organization_id=user.organization_id)


def _number(user, number_id):
    """The user's number of id `number_id` (a path value or a query's), or 404."""
    number = _numbers(user).filter(pk=params.positive_id(number_id, field="number", required=True)).first()
    if number is None:
        raise Http404
    return number


def _contacts(user, number):
    contacts = Contact.objects.filter(organization_id=number.organization_id)
    if not access.is_platform_admin(user):
        contacts = contacts.filter(contact_access.contact_filter(user))
    return contacts.order_by("-id")[:50]


def _customer(value, *, field: str) -> str:
    """A customer's WhatsApp id: ASCII digits ("٥".isdigit() is true too), with the
    spaces, plus, dashes, dots and brackets of a typed number dropped; "" when empty."""
    digits = _PHONE_SEPARATORS.sub("", params.text(value, field=field))
    if digits and not (digits.isascii() and digits.isdigit() and len(digits) <= CUSTOMER_MAX_DIGITS):
        raise params.BadParameter(field, _("“%(field)s” must be a phone number (digits).") % {"field": field})
    return digits


def _coordinate(value, *, field: str, limit: float) -> float:
    text = params.text(value, field=field, max_length=64).strip()
    try:
        number = float(text)
    except ValueError:
        raise params.BadParameter(field, _("Latitude and longitude are needed.")) from None
    # float() reads "nan", "inf" and "1e400" too: JSON and the database refuse them.
    if not math.isfinite(number) or abs(number) > limit:
        raise params.BadParameter(field)
    return number


@phone_view
@require_http_methods(["GET", "HEAD"])
def phone(request):
    numbers = list(_numbers(request.user))
    if request.GET.get("number"):
        number = _number(request.user, request.GET["number"])
    else:
        number = numbers[0] if numbers else None
    customer = _customer(request.GET.get("phone"), field="phone")
    contacts = list(_contacts(request.user, number)) if number else []
    known = next((c.display_name for c in contacts if c.wa_id == customer), "")
    return render(request, "simulator/phone.html", {
        "numbers": numbers, "number": number, "customer": customer,
        "customer_name": request.session.get(NAMES_KEY, {}).get(customer) or known,
        "contacts": contacts,
        "thread": _thread(number, customer),
        "reactions": REACTIONS,
    })


REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"]


def _thread(number, customer):
    if number is None or not customer:
        return []
    return list(SimulatedMessage.objects.filter(phone_number_id=number.phone_number_id, customer=customer)
                .order_by("-id")[:100])[::-1]


@phone_view
@require_http_methods(["GET", "HEAD"])
def phone_thread(request, number_id, customer):
    number = _number(request.user, number_id)
    customer = _customer(customer, field="customer")
    if not customer:
        raise params.BadParameter("customer")
    return render(request, "simulator/_thread.html", {"thread": _thread(number, customer), "number": number,
                                                      "customer": customer, "reactions": REACTIONS})


@phone_view
@require_http_methods(["POST"])
def phone_send(request, number_id):
    """Write as the customer: the message reaches the inbox through the real,
    signed webhook path, posted from a background thread."""
    number = _number(request.user, number_id)
    customer = _customer(request.POST.get("phone"), field="phone")
    if not customer:
        raise BadRequest(_("A phone number is needed."))
    kind = params.text(request.POST.get("type", "text"), field="type")
    if kind not in KINDS:
        raise BadRequest(_("Unknown message type."))
    body = params.text(request.POST.get("body"), field="body")
    profile_name = params.text(request.POST.get("name"), field="name", max_length=256).strip()
    context = None
    if kind == "text":
        content = {"body": body[:4096] or "…"}
    elif kind in FILE_TYPES:
        content = _upload(request, number, kind=kind, caption=body[:1024])
    elif kind == "contacts":
        content = _contact_card(request)
    elif kind == "location":
        content = {"latitude": _coordinate(request.POST.get("latitude"), field="latitude", limit=90),
                   "longitude": _coordinate(request.POST.get("longitude"), field="longitude", limit=180)}
        if body:
            content["name"] = body[:200]
    else:
        # Only a message of this number's thread: another number's stays unseen.
        target = SimulatedMessage.objects.filter(
            wamid=params.text(request.POST.get("target"), field="target"),
            phone_number_id=number.phone_number_id, customer=customer,
        ).first()
        if target is None:
            raise BadRequest(_("Pick a message of the business."))
        if kind == "reaction":
            content = {"message_id": target.wamid, "emoji": (body or "👍")[:8]}
        elif kind == "list":
            kind, content = "interactive", _list_reply(request, target)
            context = {"from": number.display_phone_number, "id": target.wamid}
        elif kind == "flow":  # the answered form replies to the Flow message
            kind, content = "interactive", phone_commerce.flow_answer(request, target)
            context = {"from": number.display_phone_number, "id": target.wamid}
        elif kind == "order":
            content = phone_commerce.order(request, target, number)
        elif kind == "call_permission":  # allowing or declining calls replies to the request
            kind, content = "interactive", phone_calls.permission_reply(request, target)
            context = {"from": number.display_phone_number, "id": target.wamid}
        else:
            kind = "interactive"
            buttons = target.payload.get("interactive", {}).get("action", {}).get("buttons", [])
            index = params.bounded_int(request.POST.get("button"), field="button", minimum=0, maximum=BUTTON_MAX,
                                       default=0)
            if index >= len(buttons):
                raise BadRequest(_("That message has no button %(index)d.") % {"index": index})
            reply = buttons[index].get("reply", {})
            content = {"type": "button_reply",
                       "button_reply": {"id": reply.get("id", ""), "title": reply.get("title", "")}}
            context = {"from": number.display_phone_number, "id": target.wamid}
    wamid = webhooks.new_wamid()
    SimulatedMessage.objects.create(
        phone_number_id=number.phone_number_id, customer=customer, direction=SimulatedMessage.Direction.FROM_CUSTOMER,
        wamid=wamid, type=kind, payload=content, status="sent",
    )
    payload = webhooks.message_body(number, customer=customer, profile_name=profile_name, wamid=wamid, type=kind,
                                    content=content, context=context)
    webhooks.send_later([payload], secret=webhooks.secret_for(number), delay=0)
    if profile_name:  # the phone remembers the name it writes under, per customer
        names = request.session.get(NAMES_KEY, {})
        names[customer] = profile_name
        request.session[NAMES_KEY] = dict(list(names.items())[-50:])
    return redirect(f"{reverse('simulator:phone')}?number={number.pk}&phone={customer}")


def _list_reply(request, target) -> dict:
    """The customer taps a row of the business's list message `target`."""
    row_id = params.text(request.POST.get("row"), field="row", max_length=200)
    sections = target.payload.get("interactive", {}).get("action", {}).get("sections", [])
    for section in sections if isinstance(sections, list) else []:
        for row in section.get("rows", []) if isinstance(section, dict) else []:
            if isinstance(row, dict) and row.get("id") == row_id:
                reply = {"id": row_id, "title": row.get("title", "")}
                if row.get("description"):
                    reply["description"] = row["description"]
                return {"type": "list_reply", "list_reply": reply}
    raise BadRequest(_("That message has no such row."))


def _contact_card(request) -> list[dict]:
    """A contact card the customer shares: a name and a phone number."""
    name = params.text(request.POST.get("contact_name"), field="contact_name", max_length=200).strip()
    digits = _customer(request.POST.get("contact_phone"), field="contact_phone")
    if not name or not digits:
        raise params.BadParameter("contact_name", _("A contact needs a name and a phone number."))
    return [{"name": {"formatted_name": name, "first_name": name},
             "phones": [{"phone": f"+{digits}", "wa_id": digits, "type": "CELL"}]}]


def _upload(request, number, *, kind: str, caption: str) -> dict:
    """A picture, a document or an audio the customer sends, kept as the simulator's
    media (the inbox downloads it from the Graph API's media path)."""
    upload = request.FILES.get("file")
    if upload is None:
        raise BadRequest(_("Choose a file."))
    filename = params.text(upload.name, field="file")[:255]
    mime_type = params.text(upload.content_type or "application/octet-stream", field="file")
    if not _MIME_TYPE.fullmatch(mime_type) or not mime_type.startswith(FILE_TYPES[kind]):
        raise params.BadParameter("file", _("Choose a picture.") if kind == "image" else _("Choose a file."))
    data = upload.read()
    media = SimulatedMedia.objects.create(
        media_id=str(random.randint(10**14, 10**15 - 1)), phone_number_id=number.phone_number_id,
        mime_type=mime_type, filename=filename, sha256=hashlib.sha256(data).hexdigest(), content=data,
    )
    content = {"id": media.media_id, "mime_type": media.mime_type, "sha256": media.sha256}
    if kind == "document":
        content["filename"] = filename
    if kind == "audio":
        content["voice"] = False
    elif caption:
        content["caption"] = caption
    return content
