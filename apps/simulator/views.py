"""The simulator's own pages: the control API and the "customer phone"."""

from __future__ import annotations

import hashlib
import json
import random

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.accounts import access
from apps.conversations.models import Contact
from apps.whatsapp.models import WhatsAppNumber

from . import webhooks
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


def _numbers(user):
    numbers = WhatsAppNumber.objects.filter(is_active=True)
    if access.is_platform_admin(user):
        return numbers.order_by("id")
    if not access.is_member(user):
        return numbers.none()
    return numbers.filter(organization_id=user.organization_id).order_by("id")


@login_required
def phone(request):
    numbers = list(_numbers(request.user))
    number = next((n for n in numbers if str(n.pk) == request.GET.get("number")), numbers[0] if numbers else None)
    customer = "".join(c for c in request.GET.get("phone", "") if c.isdigit())
    contacts = Contact.objects.filter(organization_id=number.organization_id).order_by("-id")[:50] if number else []
    return render(request, "simulator/phone.html", {
        "numbers": numbers, "number": number, "customer": customer, "contacts": contacts,
        "thread": _thread(number, customer),
    })


def _thread(number, customer):
    if number is None or not customer:
        return []
    return list(SimulatedMessage.objects.filter(phone_number_id=number.phone_number_id, customer=customer)
                .order_by("-id")[:100])[::-1]


@login_required
def phone_thread(request, number_id, customer):
    number = _numbers(request.user).filter(pk=number_id).first()
    if number is None:
        raise Http404
    return render(request, "simulator/_thread.html", {"thread": _thread(number, customer)})


@login_required
@require_http_methods(["POST"])
def phone_send(request, number_id):
    """Write as the customer: the message reaches the inbox through the real,
    signed webhook path, posted from a background thread."""
    number = _numbers(request.user).filter(pk=number_id).first()
    if number is None:
        raise Http404
    customer = "".join(c for c in request.POST.get("phone", "") if c.isdigit())
    if not customer:
        raise BadRequest(_("A phone number is needed."))
    kind = request.POST.get("type", "text")
    context = None
    if kind == "text":
        content = {"body": request.POST.get("body", "")[:4096] or "…"}
    elif kind == "image":
        upload = request.FILES.get("file")
        if upload is None:
            raise BadRequest(_("Choose a picture."))
        data = upload.read()
        media = SimulatedMedia.objects.create(
            media_id=str(random.randint(10**14, 10**15 - 1)), phone_number_id=number.phone_number_id,
            mime_type=upload.content_type or "image/jpeg", filename=upload.name or "",
            sha256=hashlib.sha256(data).hexdigest(), content=data,
        )
        content = {"id": media.media_id, "mime_type": media.mime_type, "sha256": media.sha256}
        if request.POST.get("body"):
            content["caption"] = request.POST["body"][:1024]
    elif kind == "location":
        try:
            content = {"latitude": float(request.POST.get("latitude")), "longitude": float(request.POST.get("longitude"))}
        except (TypeError, ValueError):
            raise BadRequest(_("Latitude and longitude are needed."))
        if request.POST.get("body"):
            content["name"] = request.POST["body"][:200]
    elif kind in ("button", "reaction"):
        # Only a message of this number's thread: another number's stays unseen.
        target = SimulatedMessage.objects.filter(
            wamid=request.POST.get("target", ""), phone_number_id=number.phone_number_id, customer=customer,
        ).first()
        if target is None:
            raise BadRequest(_("Pick a message of the business."))
        if kind == "reaction":
            content = {"message_id": target.wamid, "emoji": request.POST.get("body", "👍")[:8]}
        else:
            kind = "interactive"
            buttons = target.payload.get("interactive", {}).get("action", {}).get("buttons", [])
            index = int(request.POST.get("button", "0") or 0)
            reply = buttons[index]["reply"] if 0 <= index < len(buttons) else {"id": "", "title": ""}
            content = {"type": "button_reply", "button_reply": {"id": reply["id"], "title": reply["title"]}}
            context = {"from": number.display_phone_number, "id": target.wamid}
    else:
        raise BadRequest(_("Unknown message type."))
    wamid = webhooks.new_wamid()
    SimulatedMessage.objects.create(
        phone_number_id=number.phone_number_id, customer=customer, direction=SimulatedMessage.Direction.FROM_CUSTOMER,
        wamid=wamid, type=kind, payload=content, status="sent",
    )
    body = webhooks.message_body(number, customer=customer, profile_name=request.POST.get("name", ""), wamid=wamid,
                                 type=kind, content=content, context=context)
    webhooks.send_later([body], secret=webhooks.secret_for(number), delay=0)
    return redirect(f"{reverse('simulator:phone')}?number={number.pk}&phone={customer}")
