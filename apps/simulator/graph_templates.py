"""The simulated template lifecycle beyond listing and creating (graph.py): editing a
template (POST /{template-id}), deleting one (DELETE /{waba-id}/message_templates
with name, and hsm_id for one language), archiving and unarchiving some
(POST /{waba-id}/message_templates/archive and /unarchive with hsm_ids: Meta serves
them from api.facebook.com, without a version in the path; the simulator under
graph/api/).

As Meta for archiving: at most 100 ids (100); only approved or rejected templates are
archived, only archived ones unarchived (to their status before, else APPROVED); the
others are answered in failed_templates with Meta's reasons.

As Meta: a template under review (PENDING) or disabled cannot be edited; an approved
one at most once in 24 hours (100 with its reason); an edit sends a marketing template
back to review (PENDING), the simulator approves the others at once, as it does on
creation; deleting a name Meta does not know answers 100.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

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


@_graph_view
def _templates_archive(request, object_id, action):
    templates = SimulatedTemplate.objects.filter(waba_id=object_id)
    _authorise(request, template_number(templates.first()) if templates.exists() else None)
    if request.method != "POST" or action not in ("archive", "unarchive"):
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    ids = _json_body(request).get("hsm_ids")
    if isinstance(ids, str):  # a comma-separated list is taken too
        ids = [i.strip() for i in ids.split(",") if i.strip()]
    if not isinstance(ids, list) or not ids:
        raise GraphError(131008, "(#131008) Required parameter is missing", details="hsm_ids")
    if len(ids) > 100:
        raise _param("hsm_ids: at most 100 template ids per request.")
    done, failed = [], {}
    for template_id in map(str, ids):
        template = templates.filter(meta_id=template_id).first()
        if template is None:
            failed[template_id] = "Template not found"
        elif action == "archive" and template.status not in ("APPROVED", "REJECTED"):
            failed[template_id] = "Only approved or rejected templates can be archived"
        elif action == "unarchive" and template.status != "ARCHIVED":
            failed[template_id] = "Template is not archived"
        else:
            if action == "archive":
                template.status_before_archive, template.status = template.status, "ARCHIVED"
            else:
                template.status, template.status_before_archive = template.status_before_archive or "APPROVED", ""
            template.save(update_fields=["status", "status_before_archive"])
            done.append(template_id)
    return GraphResponse({f"{action}d_templates": done, "failed_templates": failed})


@csrf_exempt
def templates_archive(request, object_id, action):
    """POST /{waba-id}/message_templates/archive|unarchive (no version in the path)."""
    return _templates_archive(request, settings.GRAPH_API_VERSION, object_id, action)
