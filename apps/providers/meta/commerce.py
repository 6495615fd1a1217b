"""Product messages at Meta: the catalog connected to a WhatsApp Business Account
(GET /{waba-id}/product_catalogs), the single-product message (`product`) and the
multi-product message (`product_list`).

Meta's rules ("Sell products and services", interactive object): a product message
names `action.catalog_id` and `action.product_retailer_id`, its body and footer are
optional and it has no header; a product list has a text header and a body, at most
PRODUCT_SECTIONS_MAX sections (each titled, at most 24 characters, when there are
several) and at most PRODUCT_ITEMS_MAX products in all. Nothing here imports from the
domain.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.core.errors import SendError

PRODUCT_SECTIONS_MAX = 10
PRODUCT_ITEMS_MAX = 30
SECTION_TITLE_MAX = 24
RETAILER_ID_MAX = 100
CATALOG_ID_MAX = 64


@dataclass(frozen=True)
class Catalog:
    id: str
    name: str


def connected_catalog(client, waba_id: str) -> Catalog | None:
    """The catalog connected to the account (Meta connects at most one), or None."""
    answer = client.call("GET", waba_id, "product_catalogs", params={"fields": "id,name"})
    for item in answer.get("data") or []:
        if isinstance(item, dict) and item.get("id"):
            return Catalog(id=str(item["id"]), name=str(item.get("name") or item["id"]))
    return None


def _id(value, field: str, max_length: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise SendError(field, "required", _("%(field)s is required.") % {"field": field})
    if len(value) > max_length:
        raise SendError(field, "too_long", _("%(field)s is too long: at most %(limit)d characters (it has %(length)d).")
                        % {"field": field, "limit": max_length, "length": len(value)})
    return value.strip()


def product_action(payload: dict) -> dict:
    return {"catalog_id": _id(payload.get("catalog_id"), "interactive.catalog_id", CATALOG_ID_MAX),
            "product_retailer_id": _id(payload.get("product_retailer_id"), "interactive.product_retailer_id",
                                       RETAILER_ID_MAX)}


def product_list_action(payload: dict) -> dict:
    catalog_id = _id(payload.get("catalog_id"), "interactive.catalog_id", CATALOG_ID_MAX)
    sections = payload.get("sections")
    if not isinstance(sections, list) or not sections:
        raise SendError("interactive.sections", "required", _("At least one section of products is required."))
    if len(sections) > PRODUCT_SECTIONS_MAX:
        raise SendError("interactive.sections", "too_many", _("At most %(limit)d sections (there are %(count)d).")
                        % {"limit": PRODUCT_SECTIONS_MAX, "count": len(sections)})
    built, total = [], 0
    for s_index, section in enumerate(sections):
        field = f"interactive.sections[{s_index}]"
        if not isinstance(section, dict):
            raise SendError(field, "invalid", _("%(field)s must be an object.") % {"field": field})
        title = section.get("title") or ""
        if not isinstance(title, str) or len(title) > SECTION_TITLE_MAX:
            raise SendError(f"{field}.title", "too_long", _("%(field)s is text of at most %(limit)d characters.")
                            % {"field": f"{field}.title", "limit": SECTION_TITLE_MAX})
        if len(sections) > 1 and not title.strip():
            raise SendError(f"{field}.title", "required", _("Each section needs a title when there are several."))
        items = section.get("product_items")
        if not isinstance(items, list) or not items:
            raise SendError(f"{field}.product_items", "required", _("A section needs at least one product."))
        total += len(items)
        if total > PRODUCT_ITEMS_MAX:
            raise SendError("interactive.sections", "too_many_products",
                            _("At most %(limit)d products in all sections.") % {"limit": PRODUCT_ITEMS_MAX})
        ids = []
        for i_index, item in enumerate(items):
            value = item.get("product_retailer_id") if isinstance(item, dict) else item
            ids.append({"product_retailer_id": _id(value, f"{field}.product_items[{i_index}].product_retailer_id",
                                                   RETAILER_ID_MAX)})
        built.append({**({"title": title.strip()} if title.strip() else {}), "product_items": ids})
    return {"catalog_id": catalog_id, "sections": built}
