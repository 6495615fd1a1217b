"""The simulated Graph API's edges beyond messages, media and templates (graph.py),
each in a module of its own: the URLs and the fast path through the middleware both
dispatch through this table."""

from __future__ import annotations

from django.views.decorators.csrf import csrf_exempt

from . import (
    graph,
    graph_blocking,
    graph_commerce,
    graph_numbers,
    graph_profile,
    graph_templates,
    graph_uploads,
)

EDGES = {
    "block_users": graph_blocking.block_users,
    "register": graph_numbers.register,
    "whatsapp_business_profile": graph_profile.business_profile,
    "conversational_automation": graph_profile.conversational_automation,
    "uploads": graph_uploads.uploads,
    "flows": graph_commerce.flows,
    "product_catalogs": graph_commerce.product_catalogs,
}


@csrf_exempt  # a server-to-server API, as graph.py's views
def edge(request, version, object_id, edge_name):
    if edge_name == "message_templates" and request.method == "DELETE":
        return graph_templates.templates_delete(request, version, object_id)
    if edge_name == "messages":  # flow and product sends checked against the account first
        return graph_commerce.messages(request, version, object_id, edge_name)
    handler = EDGES.get(edge_name)
    if handler is None:
        return graph.edge(request, version, object_id, edge_name)
    return handler(request, version, object_id)


@csrf_exempt
def node(request, version, object_id):
    """A business number's node (graph_numbers) when the id is one, else a media object."""
    from apps.whatsapp.models import WhatsAppNumber

    from .models import SimulatedTemplate

    if object_id.startswith("upload:"):
        return graph_uploads.session(request, version, object_id)
    if WhatsAppNumber.objects.filter(phone_number_id=object_id).exists():
        return graph_numbers.number_node(request, version, object_id)
    if SimulatedTemplate.objects.filter(meta_id=object_id).exists():
        return graph_templates.template_node(request, version, object_id)
    return graph.node(request, version, object_id)
