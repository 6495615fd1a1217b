"""The webhook Meta calls. Thin and fast: verify, store with one INSERT, answer.

GET is Meta's subscription check; POST is a delivery. Processing happens in the
task enqueued on commit (services.webhook_accept), never in the request.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.providers.meta.body import MalformedBody, decode
from apps.providers.meta.parser import OBJECT
from apps.providers.meta.signature import HEADER
from apps.whatsapp.models import WhatsAppNumber
from apps.whatsapp.secrets import verify_delivery

from . import services
from .models import WebhookEvent


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
        signature = Signature.INVALID if header else Signature.MISSING
        return _refuse_unauthenticated(body, headers, remote, signature, reason, 400, reason)
    if not header:
        return _refuse_unauthenticated(body, headers, remote, Signature.MISSING, "X-Hub-Signature-256 missing", 401,
                                       "signature missing")
    signed_by = verify_delivery(body, header)
    if signed_by is None:
        return _refuse_unauthenticated(body, headers, remote, Signature.INVALID, "X-Hub-Signature-256 does not match",
                                       401, "signature invalid")
    # A signed body we cannot use is kept and answered 200: any other answer has Meta
    # retry it for days, and retrying cannot make it better.
    try:
        payload = decode(body)
    except MalformedBody as exc:
        return _keep_malformed(body, headers, remote, signed_by, str(exc))
    if not isinstance(payload, dict) or payload.get("object") != OBJECT:
        return _keep_malformed(body, headers, remote, signed_by, f"object is not {OBJECT}")
    services.webhook_accept(body=body, headers=headers, remote_addr=remote, signed_by=signed_by)
    return HttpResponse(b'{"ok":true}', content_type="application/json")


def _refuse_unauthenticated(body, headers, remote, signature, reason, status, answer):
    """Keep a trace of a delivery we could not authenticate, as far as the rate of
    such deliveries allows (beyond it they are only counted, and answered 429)."""
    if not services.webhook_reject(body=body, headers=headers, remote_addr=remote, signature=signature,
                                   reason=reason):
        return _refuse(429, "too many unauthenticated deliveries")
    return _refuse(status, answer)


def _keep_malformed(body, headers, remote, signed_by, reason):
    reason = f"malformed body: {reason}"
    services.webhook_reject(body=body, headers=headers, remote_addr=remote, signature=WebhookEvent.Signature.VALID,
                            reason=reason, signed_by=signed_by)
    return JsonResponse({"ok": False, "error": reason}, status=200)
