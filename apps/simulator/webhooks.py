"""Webhooks the simulated WhatsApp sends to the product: statuses (with Meta's
per-message pricing), customer messages, and the WhatsApp Business app's fields of a
number used in the app and the API at once (echoes, history, the address book).

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


def _envelope(number, value: dict, *, field: str = "messages") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": number.waba_id or "0",
                "changes": [
                    {
                        "field": field,
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


def pricing(category: str = "service", *, entry_point: bool = False) -> dict:
    """Meta's per-message pricing object (since July 2025): a service message inside
    the window is free (free_customer_service), a message within 72 hours of a
    click-to-WhatsApp ad free too (free_entry_point); templates are charged (regular)."""
    category = category.lower() or "service"
    kind = "free_entry_point" if entry_point else (
        "free_customer_service" if category == "service" else "regular")
    return {"billable": kind == "regular", "pricing_model": "PMP", "type": kind, "category": category}


def pricing_category(number, body: dict) -> str:
    """Meta's pricing category of a message sent: a template's own category (the
    simulator's copy; marketing when it holds none), service for anything else."""
    from .models import SimulatedTemplate

    if body.get("type") != "template":
        return "service"
    content = body.get("template") or {}
    template = SimulatedTemplate.objects.filter(
        waba_id=getattr(number, "waba_id", "") or "", name=content.get("name"),
        language=(content.get("language") or {}).get("code")).first()
    return (template.category if template is not None else "") or "marketing"


def status_body(number, *, wamid: str, status: str, recipient: str, errors: list | None = None,
                callback_data: str = "", pricing_: dict | None = None) -> dict:
    """A status of a message the business sent; `callback_data`: the send's
    biz_opaque_callback_data, which Meta echoes in each of its statuses; `pricing_`:
    the message's pricing (a service message's by default)."""
    item = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if status in ("sent", "delivered", "read"):
        item["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "service"}}
        item["pricing"] = pricing_ or pricing()
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


def _display(number) -> str:
    return "".join(c for c in number.display_phone_number if c.isdigit())


def echo_body(number, *, customer: str, wamid: str, type: str, content: dict, timestamp: int | None = None) -> dict:
    """smb_message_echoes: a message the business sent from the WhatsApp Business app."""
    echo = {"from": _display(number), "to": customer, "id": wamid, "timestamp": str(timestamp or int(time.time())),
            "type": type, type: content}
    return _envelope(number, {"message_echoes": [echo]}, field="smb_message_echoes")


def history_body(number, *, threads: dict[str, list[dict]], phase: int = 0, chunk_order: int = 1,
                 progress: int = 100) -> dict:
    """history: chats the Business app shares on onboarding. `threads`: customer ->
    messages as {wamid, outbound, timestamp, type, content, status}."""
    chunk_threads = []
    for customer, messages in threads.items():
        items = []
        for m in messages:
            item = {"from": _display(number) if m["outbound"] else customer, "id": m["wamid"],
                    "timestamp": str(m["timestamp"]), "type": m.get("type", "text"),
                    m.get("type", "text"): m["content"], "history_context": {"status": m.get("status", "READ")}}
            if m["outbound"]:
                item["to"] = customer
            items.append(item)
        chunk_threads.append({"id": customer, "messages": items})
    chunk = {"metadata": {"phase": phase, "chunk_order": chunk_order, "progress": progress},
             "threads": chunk_threads}
    return _envelope(number, {"history": [chunk]}, field="history")


def address_book_body(number, *, changes: list[tuple[str, str, str]]) -> dict:
    """smb_app_state_sync: (phone, "add" | "remove", full name) of the phone's address book."""
    now = str(int(time.time()))
    items = [{"type": "contact", "contact": {"full_name": name, "first_name": name.split(" ")[0] if name else "",
                                             "phone_number": phone},
              "action": action, "metadata": {"timestamp": now}} for phone, action, name in changes]
    return _envelope(number, {"state_sync": items}, field="smb_app_state_sync")


def call_body(number, *, customer: str, call_id: str, event: str, profile_name: str = "",
              direction: str = "USER_INITIATED", status: str = "", start: int | None = None,
              end: int | None = None, timestamp: int | None = None) -> dict:
    """calls: a customer's call ringing (event "connect") or ended ("terminate", status
    COMPLETED with start and end, or FAILED when nobody answered)."""
    caller, callee = (customer, _display(number)) if direction == "USER_INITIATED" else (_display(number), customer)
    call = {"id": call_id, "from": caller, "to": callee, "event": event, "direction": direction,
            "timestamp": str(timestamp or end or int(time.time()))}
    if event == "terminate":
        call["status"] = status or ("COMPLETED" if start and end else "FAILED")
        if start and end:
            call.update(start_time=str(start), end_time=str(end), duration=end - start)
    return _envelope(number, {"contacts": [{"profile": {"name": profile_name or customer}, "wa_id": customer}],
                              "calls": [call]}, field="calls")


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
