"""The simulated template lifecycle beyond listing and creating (graph.py): editing a
template (POST /{template-id}) and deleting one (DELETE /{waba-id}/message_templates
with name, and hsm_id for one language).

As Meta: a template under review (PENDING) or disabled cannot be edited; an approved
one at most once in 24 hours (100 with its reason); an edit sends a marketing template
back to review (PENDING), the simulator approves the others at once, as it does on
creation; deleting a name Meta does not know answers 100.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .graph import (
    GraphError,
    GraphResponse,
    _authorise,
    _graph_view,
    _json_body,
    _param,
)
from .models import SimulatedRequest, SimulatedTemplate


def template_number(template: SimulatedTemplate):
    from apps.whatsapp.models import WhatsAppNumber

    return WhatsAppNumber.objects.filter(waba_id=template.waba_id).first()


@_graph_view
def template_node(request, object_id):
    template = SimulatedTemplate.objects.filter(meta_id=object_id).first()
    if template is None:
        raise GraphError(
            100,
            f"Unsupported post request. Object with ID '{object_id}' does not exist.",
            subcode=33,
            type="GraphMethodException",
        )
    _authorise(request, template_number(template))
    if request.method == "GET":
        return GraphResponse(template.as_graph())
    if request.method != "POST":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    body = _json_body(request)
    components = body.get("components")
    if not isinstance(components, list) or not components:
        raise GraphError(
            131008, "(#131008) Required parameter is missing", details="components"
        )
    if template.status in ("PENDING", "DISABLED", "IN_APPEAL"):
        raise _param(f"A template that is {template.status} cannot be edited.")
    recently = SimulatedRequest.objects.filter(
        method="POST",
        status_code=200,
        path__endswith=f"/{object_id}",
        received_at__gte=timezone.now() - timedelta(hours=24),
    ).exists()
    if template.status == "APPROVED" and recently:
        raise _param("An approved template can be edited once in 24 hours.")
    template.components = components
    template.status = "PENDING" if template.category == "MARKETING" else "APPROVED"
    template.save(update_fields=["components", "status"])
    return GraphResponse({"success": True})


@_graph_view
def templates_delete(request, object_id):
    """DELETE /{waba-id}/message_templates (graph_edges sends only DELETE here)."""
    templates = SimulatedTemplate.objects.filter(
        waba_id=object_id, name=request.GET.get("name") or ""
    )
    _authorise(
        request, template_number(templates.first()) if templates.exists() else None
    )
    if not request.GET.get("name"):
        raise GraphError(
            131008, "(#131008) Required parameter is missing", details="name"
        )
    if request.GET.get("hsm_id"):
        templates = templates.filter(meta_id=request.GET["hsm_id"])
    if not templates.exists():
        raise _param(f'Message template "{request.GET["name"]}" not found.')
    templates.delete()
    return GraphResponse({"success": True})
