"""The customer's side of Flow and product messages on the simulated phone: the
answered form of a Flow (`interactive.nfm_reply`, its `response_json` carrying the
message's flow_token) and an order of the products a product or product-list message
showed (`order`: catalog_id, product_items with quantity, the catalog's item_price and
currency), in the shapes Meta's webhooks deliver."""

from __future__ import annotations

import json

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _

from apps.core import params

from .models import SimulatedCatalog

DEFAULT_PRICE, DEFAULT_CURRENCY = "10.00", "USD"


def flow_answer(request, target) -> dict:
    interactive = target.payload.get("interactive") or {}
    if interactive.get("type") != "flow":
        raise BadRequest(_("Pick a Flow message of the business."))
    parameters = (interactive.get("action") or {}).get("parameters") or {}
    answers = {"flow_token": parameters.get("flow_token", "")}
    for line in params.text(request.POST.get("body"), field="body").splitlines():
        key, _sep, value = line.partition(":")
        if key.strip():
            answers[key.strip()[:80]] = value.strip()[:500]
    return {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": json.dumps(answers)}}


def order(request, target, number) -> dict:
    interactive = target.payload.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "product":
        ids = [action.get("product_retailer_id")]
    elif interactive.get("type") == "product_list":
        ids = [item.get("product_retailer_id") for section in action.get("sections") or []
               for item in section.get("product_items") or []]
    else:
        raise BadRequest(_("Pick a product message of the business."))
    quantity = params.bounded_int(request.POST.get("quantity"), field="quantity", minimum=1, maximum=99, default=1)
    catalog = SimulatedCatalog.objects.filter(waba_id=number.waba_id).first()
    known = {str(p.get("retailer_id")): p for p in (catalog.products if catalog else []) if isinstance(p, dict)}
    items = []
    for retailer_id in ids:
        product = known.get(str(retailer_id), {})
        items.append({"product_retailer_id": str(retailer_id), "quantity": str(quantity),
                      "item_price": str(product.get("price", DEFAULT_PRICE)),
                      "currency": str(product.get("currency", DEFAULT_CURRENCY))})
    return {"catalog_id": str(action.get("catalog_id", "")), "text": params.text(request.POST.get("body"), field="body")[:1000],
            "product_items": items}
