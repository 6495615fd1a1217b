"""What the thread shows of Flow and product messages: the Flow's button and the
customer's answered form (label: value rows), the product and product-list messages
sent, and the customer's order with its line totals. No queries."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from apps.providers.meta.flows import answer_rows


def flow_answer(content: dict) -> dict:
    reply = content.get("nfm_reply") if isinstance(content.get("nfm_reply"), dict) else {}
    response = reply.get("response") if isinstance(reply.get("response"), dict) else {}
    return {"answer": reply.get("body") or _("Form answered"), "answer_kind": "nfm_reply",
            "fields": answer_rows(response)}


def _sections(sections) -> list[dict]:
    """A product list's sections as the list's sections (rows titled by retailer id)."""
    shown = []
    for section in sections or []:
        if isinstance(section, dict):
            items = [i for i in section.get("product_items") or [] if isinstance(i, dict)]
            shown.append({"title": section.get("title", ""),
                          "rows": [{"title": str(i.get("product_retailer_id", ""))} for i in items]})
    return shown


def commerce_parts(kind: str, action: dict) -> dict:
    """The parts of a sent (or drafted) flow, product or product_list message."""
    if kind == "flow":
        parameters = action.get("parameters") if isinstance(action.get("parameters"), dict) else action
        return {"buttons": [parameters["flow_cta"]] if parameters.get("flow_cta") else [], "flow": True}
    if kind == "product":
        return {"products": [str(action.get("product_retailer_id", ""))], "buttons": [_("View")]}
    if kind == "product_list":
        return {"sections": _sections(action.get("sections")), "list_button": _("View items")}
    return {}


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def order_view(content: dict) -> dict:
    """The order's items (quantity, retailer id, unit price, line total) and a total
    per currency."""
    items, totals = [], {}
    for item in content.get("product_items") or []:
        if not isinstance(item, dict):
            continue
        quantity, price = _decimal(item.get("quantity")), _decimal(item.get("item_price"))
        currency = str(item.get("currency") or "")
        line = quantity * price if quantity is not None and price is not None else None
        if line is not None:
            totals[currency] = totals.get(currency, Decimal(0)) + line
        items.append({**item, "line_total": line})
    return {"items": items, "totals": sorted(totals.items()), "catalog_id": content.get("catalog_id", "")}
