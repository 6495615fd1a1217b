"""Build and sign webhook deliveries as Meta sends them (tests, benchmarks, the simulator)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from apps.providers.meta.signature import sign_body

FIXTURES = Path(__file__).parent / "fixtures"
_ids = itertools.count(1)


def sign(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header value for `body`."""
    return sign_body(body, secret)


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def new_wamid() -> str:
    return f"wamid.HBgLNTUxMTk5OTk5OTk5FQIAEhgg{next(_ids):016d}"


def envelope(*changes: dict, waba_id: str = "102290129340398", time_: int | None = None) -> dict:
    """One entry holding `changes`."""
    entry = {"id": waba_id, "changes": list(changes)}
    if time_ is not None:
        entry["time"] = time_
    return {"object": "whatsapp_business_account", "entry": [entry]}


def messages_change(*, phone_number_id: str, display_phone_number: str = "15550783881", messages=(), statuses=(),
                    contacts=None, **extra) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    if contacts is None and messages:
        seen = {}
        for m in messages:
            seen.setdefault(m["from"], {"profile": {"name": f"Customer {m['from'][-4:]}"}, "wa_id": m["from"]})
        contacts = list(seen.values())
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    value.update(extra)
    return {"field": "messages", "value": value}


def message(type_: str = "text", *, wamid: str | None = None, from_: str = "5511999990001", timestamp: int | None = None,
            context: dict | None = None, **content) -> dict:
    """An inbound message of `type_`; `content` is the type's own object (or, for
    text, `body=`)."""
    item = {"from": from_, "id": wamid or new_wamid(), "timestamp": str(timestamp or int(time.time())), "type": type_}
    if type_ == "text" and "body" in content:
        item["text"] = {"body": content.pop("body")}
    extra = {k: content.pop(k) for k in ("referral", "errors") if k in content}
    if content:
        item[type_] = content.pop(type_, None) or content
    if context:
        item["context"] = context
    item.update(extra)
    return item


def status(wamid: str, state: str, *, timestamp: int | None = None, recipient_id: str = "5511999990001",
           errors=None, pricing: bool | dict = True) -> dict:
    item = {
        "id": wamid,
        "status": state,
        "timestamp": str(timestamp or int(time.time())),
        "recipient_id": recipient_id,
    }
    if state != "failed" and pricing:
        item["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        item["pricing"] = pricing if isinstance(pricing, dict) else {
            "billable": True, "pricing_model": "PMP", "category": "service"
        }
    if errors:
        item["errors"] = errors
    return item


def text_payload(*, phone_number_id: str, body: str = "Hello", **kwargs) -> dict:
    return envelope(messages_change(phone_number_id=phone_number_id, messages=[message("text", body=body, **kwargs)]))


def body_of(payload: dict | bytes | str) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def post_webhook(client, payload, *, secret: str | None = "test-app-secret", signature: str | None = None):
    """POST `payload` to the webhook as Meta would, signed with `secret`."""
    body = body_of(payload)
    headers = {}
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    elif secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body, secret)
    return client.post("/webhooks/whatsapp/", data=body, content_type="application/json", **headers)
