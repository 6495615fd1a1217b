"""`manage.py check --deploy`: the simulator is a developer's stand-in for Meta."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def simulator_in_production(app_configs=None, **kwargs):
    if settings.SIMULATOR_ENABLED and not settings.DEBUG:
        return [checks.Warning(
            "The built-in simulator is enabled with DEBUG off: its customer phone, its failure controls and "
            "its fake Graph API are served.",
            hint="Set SIMULATOR_ENABLED=false and GRAPH_API_BASE to Meta's Graph API in production.",
            id="simulator.W001",
        )]
    return []
