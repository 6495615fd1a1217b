"""A short path through the middleware for the simulated Graph API.

The fake Graph API answers server-to-server calls of the Graph API client: sessions,
CSRF (its views are exempt), authentication, messages, locale, htmx and login
throttling do nothing for them, yet they were about a fifth of each simulated
call's CPU (the simulator stands in for Meta: its cost is not ours to pay in a
benchmark of our sending). Placed right after SecurityMiddleware, this middleware
hands Graph API paths (`/simulator/graph/<version>/<object>[/<edge>]`) straight to
their views; every other request, the simulator's own pages included, takes the
full stack. Not used when the simulator is off.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.urls import NoReverseMatch, reverse


class GraphFastPathMiddleware:
    def __init__(self, get_response):
        if not settings.SIMULATOR_ENABLED:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.pattern: re.Pattern | None = None

    def _pattern(self) -> re.Pattern | None:
        try:
            node = reverse("simulator:graph-node", args=["VERSION", "OBJECT"])
        except NoReverseMatch:
            return None
        prefix = node[: -len("VERSION/OBJECT")]
        return re.compile(rf"^{re.escape(prefix)}(?P<version>[^/]+)/(?P<object_id>[^/]+)(?:/(?P<edge_name>[^/]+))?$")

    def __call__(self, request):
        if self.pattern is None:
            self.pattern = self._pattern() or re.compile(r"(?!)")
        match = self.pattern.match(request.path_info)
        if match is None:
            return self.get_response(request)
        from . import graph_edges

        version, object_id, edge_name = match.group("version", "object_id", "edge_name")
        if edge_name is None:
            response = graph_edges.node(request, version, object_id)
        else:
            response = graph_edges.edge(request, version, object_id, edge_name)
        # What CommonMiddleware would add (a kept-alive client needs the length).
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
