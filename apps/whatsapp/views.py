"""The webhook Meta calls. Thin and fast: verify, store with one INSERT, answer.

GET is Meta's subscription check; POST is a delivery. Processing happens in the
task enqueued on commit (services.webhook_accept), never in the request.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import services
from .models import WebhookEvent, WhatsAppNumber
from .parser import OBJECT
from .signature import HEADER, verify_delivery


def _verify_token_ok(token: str) -> bool:
    if not token:
        return False
    configured = settings.META_VERIFY_TOKEN
    if configured and hmac.compare_digest(configured.encode(), token.encode()):
        return True
    return WhatsAppNumber.objects.filter(is_active=True, verify_token=token).exists()


def _subscribe(request):
    if request.GET.get("hub.mode") == "subscribe" and _verify_token_ok(request.GET.get("hub.verify_token", "")):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain", status=200)
    return HttpResponse("Forbidden", content_type="text/plain", status=403)


def _refuse(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt
def whatsapp_webhook(request):
    if request.method == "GET":
        return _subscribe(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    meta = request.META
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    # Read at most one byte past the limit: an oversized body is never held whole.
    body = request.read(limit + 1)
    header = meta.get(HEADER)
    headers = services.request_headers(meta)
    remote = meta.get("REMOTE_ADDR")
    Signature = WebhookEvent.Signature
    if len(body) > limit:
        reason = f"body larger than {limit} bytes"
        services.webhook_reject(body=body, headers=headers, remote_addr=remote, reason=reason,
                                signature=Signature.INVALID if header else Signature.MISSING)
        return _refuse(400, reason)
    if not header:
        services.webhook_reject(body=body, headers=headers, remote_addr=remote, signature=Signature.MISSING,
                                reason="X-Hub-Signature-256 missing")
        return _refuse(401, "signature missing")
    signed_by = verify_delivery(body, header)
    if signed_by is None:
        services.webhook_reject(body=body, headers=headers, remote_addr=remote, signature=Signature.INVALID,
                                reason="X-Hub-Signature-256 does not match")
        return _refuse(401, "signature invalid")
    try:
        payload = json.loads(body)
    except ValueError:
        services.webhook_reject(body=body, headers=headers, remote_addr=remote, signature=Signature.VALID,
                                reason="body is not JSON", authenticated=True)
        return _refuse(400, "body is not JSON")
    if not isinstance(payload, dict) or payload.get("object") != OBJECT:
        reason = f"object is not {OBJECT}"
        services.webhook_reject(body=body, headers=headers, remote_addr=remote, signature=Signature.VALID,
                                reason=reason, authenticated=True)
        return _refuse(400, reason)
    services.webhook_accept(body=body, headers=headers, remote_addr=remote, signed_by=signed_by)
    return HttpResponse(b'{"ok":true}', content_type="application/json")
