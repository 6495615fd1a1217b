"""Webhooks the simulated WhatsApp sends to the product: statuses and customer messages.

They are built like Meta's, signed with the number's app secret (or
META_APP_SECRET) and POSTed to our own webhook URL from a background thread,
never from the request thread: with one process serving both sides, a request
that waited for its own webhook would wait for itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from django.conf import settings

from apps.providers.meta import http
from apps.providers.meta.signature import sign_body

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10.0


def webhook_url() -> str:
    return getattr(settings, "SIMULATOR_WEBHOOK_URL", None) or f"{settings.SITE_URL}/webhooks/whatsapp/"


def new_wamid() -> str:
    return "wamid.SIM" + uuid.uuid4().hex.upper()


def _envelope(number, value: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": number.waba_id or "0",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "".join(c for c in number.display_phone_number if c.isdigit()),
                                "phone_number_id": number.phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def status_body(number, *, wamid: str, status: str, recipient: str, errors: list | None = None,
                callback_data: str = "") -> dict:
    """A status of a message the business sent; `callback_data`: the send's
    biz_opaque_callback_data, which Meta echoes in each of its statuses."""
    item = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if status in ("sent", "delivered", "read"):
        item["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors:
        item["errors"] = errors
    return _envelope(number, {"statuses": [item]})


def message_body(number, *, customer: str, profile_name: str, wamid: str, type: str, content: dict,
                 context: dict | None = None) -> dict:
    message = {"from": customer, "id": wamid, "timestamp": str(int(time.time())), "type": type, type: content}
    if context:
        message["context"] = context
    return _envelope(
        number,
        {"contacts": [{"profile": {"name": profile_name or customer}, "wa_id": customer}], "messages": [message]},
    )


def secret_for(number) -> str:
    return number.app_secret or settings.META_APP_SECRET or ""


def post_signed(body: dict, secret: str, url: str | None = None) -> int | None:
    """POST `body` signed with `secret`; the HTTP status, or None when unreachable."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Hub-Signature-256"] = sign_body(raw, secret)
    try:
        return http.request("POST", url or webhook_url(), headers=headers, data=raw, timeout=WEBHOOK_TIMEOUT).status_code
    except http.Failure as exc:
        logger.warning("simulator webhook to %s failed: %s", url or webhook_url(), exc)
        return None


def send_later(bodies: list[dict], *, secret: str, delay: float, url: str | None = None) -> threading.Thread:
    """Send `bodies` one after another, `delay` seconds apart, from a background thread."""
    url = url or webhook_url()

    def run():
        for body in bodies:
            if delay:
                time.sleep(delay)
            post_signed(body, secret, url)

    thread = threading.Thread(target=run, name="simulator-webhook", daemon=True)
    thread.start()
    return thread
