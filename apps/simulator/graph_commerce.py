"""The simulated Flows and catalog of an account, and Meta's checks of the interactive
messages that use them:

- GET /{waba-id}/flows: the account's Flows (id, name, status, categories), paged by
  `limit` and `after` as Meta pages them;
- GET /{waba-id}/product_catalogs: the catalog connected to the account (none, or one);
- a `flow` message: flow_message_version "3", a flow_cta of at most 20 characters,
  flow_id or flow_name of one of the account's Flows, published unless sent in draft
  mode, a navigate action's screen among the Flow's screens;
- `product` and `product_list` messages: the account's catalog and products of it, a
  list with a text header, a body, at most 10 sections and 30 products.

Meta answers 131009 (parameter value not valid: no such Flow, screen, catalog or product),
100 (invalid parameter) or 131008 (missing) to these.
"""

from __future__ import annotations

from . import graph_calls
from .graph import (
    GraphError,
    GraphResponse,
    _authorise,
    _graph_view,
    _messages,
    _number,
    _param,
)
from .models import SimulatedCatalog, SimulatedFlow

CALL_KINDS = ("call_permission_request", "voice_call")

PAGE_LIMIT = 25


def _waba(request, waba_id: str) -> None:
    from apps.whatsapp.models import WhatsAppNumber

    number = WhatsAppNumber.objects.filter(waba_id=waba_id).first()
    if number is None:
        raise GraphError(100, f"Unsupported get request. Object with ID '{waba_id}' does not exist.",
                         type="GraphMethodException")
    _authorise(request, number)
    if request.method != "GET":
        raise GraphError(100, "Unsupported post request.", type="GraphMethodException")


@_graph_view
def flows(request, waba_id):
    _waba(request, waba_id)
    try:
        limit = max(1, min(int(request.GET.get("limit", PAGE_LIMIT)), 100))
        after = int(request.GET.get("after") or 0)
    except ValueError:
        raise _param("limit and after are numbers.") from None
    page = list(SimulatedFlow.objects.filter(waba_id=waba_id, id__gt=after).order_by("id")[: limit + 1])
    answer = {"data": [flow.as_graph() for flow in page[:limit]], "paging": {"cursors": {}}}
    if page:
        answer["paging"]["cursors"] = {"before": str(page[0].id), "after": str(page[: limit][-1].id)}
    if len(page) > limit:
        params = request.GET.copy()
        params["after"], params["limit"] = str(page[limit - 1].id), str(limit)
        answer["paging"]["next"] = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return GraphResponse(answer)


@_graph_view
def product_catalogs(request, waba_id):
    _waba(request, waba_id)
    catalog = SimulatedCatalog.objects.filter(waba_id=waba_id).first()
    data = [{"id": catalog.catalog_id, "name": catalog.name}] if catalog else []
    return GraphResponse({"data": data})


def _invalid(details: str) -> GraphError:
    return GraphError(131009, "(#131009) Parameter value is not valid", details=details)


def _missing(what: str) -> GraphError:
    return GraphError(131008, "(#131008) Required parameter is missing", details=what)


def _flow(number, action: dict) -> None:
    if action.get("name") != "flow":
        raise _param("action.name must be 'flow'.")
    parameters = action.get("parameters") or {}
    if parameters.get("flow_message_version") != "3":
        raise _param("flow_message_version must be '3'.")
    cta = parameters.get("flow_cta")
    if not isinstance(cta, str) or not cta or len(cta) > 20:
        raise _param("flow_cta: text of 1 to 20 characters.")
    if bool(parameters.get("flow_id")) == bool(parameters.get("flow_name")):
        raise _missing("one of flow_id or flow_name")
    flows = SimulatedFlow.objects.filter(waba_id=number.waba_id)
    flow = (flows.filter(flow_id=parameters["flow_id"]) if parameters.get("flow_id")
            else flows.filter(name=parameters["flow_name"])).first()
    if flow is None:
        raise _invalid("The Flow does not exist in this WhatsApp Business Account.")
    mode = parameters.get("mode", "published")
    if mode not in ("published", "draft"):
        raise _param("mode must be published or draft.")
    if mode == "published" and flow.status != "PUBLISHED":
        raise _invalid(f"The Flow is {flow.status}: only a published Flow can be sent in published mode.")
    kind = parameters.get("flow_action", "navigate")
    if kind not in ("navigate", "data_exchange"):
        raise _param("flow_action must be navigate or data_exchange.")
    payload = parameters.get("flow_action_payload")
    if kind == "data_exchange" and payload:
        raise _param("flow_action_payload is only for navigate.")
    if payload is not None:
        if not isinstance(payload, dict) or not payload.get("screen"):
            raise _missing("flow_action_payload.screen")
        if flow.screens and payload["screen"] not in flow.screens:
            raise _invalid(f"Screen {payload['screen']} is not a screen of the Flow.")
        if "data" in payload and (not isinstance(payload["data"], dict) or not payload["data"]):
            raise _param("flow_action_payload.data must be a non-empty object.")


def _catalog(number, action: dict) -> set[str]:
    catalog = SimulatedCatalog.objects.filter(waba_id=number.waba_id).first()
    if not action.get("catalog_id"):
        raise _missing("action.catalog_id")
    if catalog is None or catalog.catalog_id != str(action["catalog_id"]):
        raise _invalid("The catalog is not connected to this WhatsApp Business Account.")
    return {str(p.get("retailer_id")) for p in catalog.products if isinstance(p, dict)}


def _product(number, content: dict) -> None:
    if content.get("header"):
        raise _param("A product message takes no header.")
    action = content.get("action") or {}
    known = _catalog(number, action)
    if str(action.get("product_retailer_id", "")) not in known:
        raise _invalid("product_retailer_id is not a product of the catalog.")


def _product_list(number, content: dict) -> None:
    if (content.get("header") or {}).get("type") != "text" or not (content.get("body") or {}).get("text"):
        raise _missing("a text header and a body")
    action = content.get("action") or {}
    known = _catalog(number, action)
    sections = action.get("sections") or []
    items = [item for section in sections for item in section.get("product_items") or []]
    if not sections or len(sections) > 10 or not items or len(items) > 30:
        raise _param("product_list: 1 to 10 sections and 1 to 30 products.")
    if len(sections) > 1 and not all(section.get("title") for section in sections):
        raise _missing("sections[].title (required when there are several sections)")
    unknown = [item.get("product_retailer_id") for item in items if str(item.get("product_retailer_id")) not in known]
    if unknown:
        raise _invalid(f"Not products of the catalog: {', '.join(map(str, unknown))}.")


def check_interactive(number, content: dict) -> None:
    """The checks of the interactive types that use the account's Flows and catalog, and
    of the calling types (graph_calls)."""
    kind = content.get("type")
    try:
        if kind == "flow":
            _flow(number, content.get("action") or {})
        elif kind == "product":
            _product(number, content)
        elif kind == "product_list":
            _product_list(number, content)
        elif kind in CALL_KINDS:
            graph_calls.check(content)
    except (AttributeError, TypeError):  # a part that is not the object Meta expects
        raise _param(f"interactive: a {kind} message's parts are objects and lists as Meta documents them.") from None


@_graph_view
def messages(request, phone_number_id, _edge="messages"):
    """POST /{phone-number-id}/messages: a flow, product or calling send checked against the
    account first, then every send as graph.py takes it (the edge's name keeps
    _graph_view's one read of the settings and the number)."""
    body = getattr(request, "simulator_json", None)
    if (request.method == "POST" and isinstance(body, dict) and body.get("type") == "interactive"
            and isinstance(body.get("interactive"), dict)):
        number = _number(phone_number_id, request)
        _authorise(request, number)
        check_interactive(number, body.get("interactive") or {})
    return _messages(request, phone_number_id)
