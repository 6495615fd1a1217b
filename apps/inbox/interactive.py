"""The composer's Buttons / List form: its flat fields read into the send API's
interactive payload, and the preview of the message being written."""

from __future__ import annotations

import json

from django.utils.translation import gettext as _

from apps.messaging.validation import SendError, build_payload

from .presenters import interactive_draft


def interactive_payload(post) -> dict:
    """The builder's flat fields: up to 3 button titles, or sections and their rows
    (each row names its section by index), or a link button's text and URL, a Flow's
    fields, a product or sections of products, a voice call button's optional text, lifetime
    in minutes and tracking payload; a location request and a call permission request are
    their body alone.
    Ids are given in order (b1.., r1..)."""
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
    elif payload["type"] == "cta_url":
        payload["display_text"] = post.get("cta_text", "").strip()
        payload["url"] = post.get("cta_url", "").strip()
    elif payload["type"] == "flow":
        payload.update(_flow_fields(post))
    elif payload["type"] in ("product", "product_list"):
        payload.update(_product_fields(post, payload["type"]))
    elif payload["type"] == "voice_call":
        for field in ("display_text", "ttl_minutes", "payload"):
            if post.get(f"call_{field}", "").strip():
                payload[field] = post.get(f"call_{field}").strip()
    return payload


def _flow_fields(post) -> dict:
    """A Flow picked by id from the account's published Flows, its button text, how it
    starts (navigate to a screen with optional data as JSON, or data_exchange)."""
    fields = {"flow_id": post.get("flow_id", "").strip(), "flow_cta": post.get("flow_cta", "").strip(),
              "mode": post.get("flow_mode", "published"), "flow_action": post.get("flow_action", "navigate")}
    if post.get("flow_screen", "").strip():
        fields["screen"] = post.get("flow_screen").strip()
    if post.get("flow_data", "").strip():
        try:
            fields["data"] = json.loads(post.get("flow_data"))
        except ValueError:
            raise SendError("interactive.data", "invalid", _("The Flow's data is not valid JSON.")) from None
    return fields


def _product_fields(post, kind: str) -> dict:
    """The catalog's id (from the pop-up), one product's retailer id, or sections of
    retailer ids (one a line, or separated by commas)."""
    fields = {"catalog_id": post.get("catalog_id", "").strip()}
    if kind == "product":
        fields["product_retailer_id"] = post.get("product_retailer_id", "").strip()
        return fields
    sections = []
    for title, ids in zip(post.getlist("psection_title"), post.getlist("psection_items")):
        items = [i.strip() for i in ids.replace(",", "\n").splitlines() if i.strip()]
        if items or title.strip():
            sections.append({**({"title": title.strip()} if title.strip() else {}),
                             "product_items": [{"product_retailer_id": i} for i in items]})
    fields["sections"] = sections
    return fields


def interactive_preview_context(post) -> dict:
    """What the preview shows: the message as far as it is written, and the first
    reason it could not be sent yet (none before anything is typed)."""
    try:
        payload = interactive_payload(post)
    except SendError as error:
        return {"i": None, "preview_errors": [error.message]}
    errors = []
    typed = (payload["body"].strip() or payload.get("header") or payload.get("footer") or payload.get("buttons")
             or payload.get("button") or payload.get("flow_id") or payload.get("product_retailer_id")
             or any(section.get("rows") or section.get("product_items") for section in payload.get("sections", [])))
    if typed:
        try:
            build_payload("interactive", payload)
        except SendError as error:
            errors.append(error.message)
    return {"i": interactive_draft(payload), "preview_errors": errors}
