"""The simulated Graph API's edges beyond messages, media and templates (graph.py),
each in a module of its own: the URLs and the fast path through the middleware both
dispatch through this table."""

from __future__ import annotations

from django.views.decorators.csrf import csrf_exempt

from . import graph, graph_blocking

EDGES = {
    "block_users": graph_blocking.block_users,
}


@csrf_exempt  # a server-to-server API, as graph.py's views
def edge(request, version, object_id, edge_name):
    handler = EDGES.get(edge_name)
    if handler is None:
        return graph.edge(request, version, object_id, edge_name)
    return handler(request, version, object_id)

