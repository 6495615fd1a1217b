"""Test helpers: point the Graph API client at the simulator served by live_server.

    from apps.simulator.testing import simulator  # noqa: F401  (a pytest fixture)
"""

import pytest

from apps.messaging.sending import ratelimit

from .models import SimulatorConfig


@pytest.fixture
def simulator(live_server, settings):
    """The simulator over real HTTP, without status webhooks and without delays."""
    settings.GRAPH_API_BASE = f"{live_server.url}/simulator/graph"
    settings.GRAPH_API_TIMEOUT = 10
    settings.SEND_RETRY_BASE_DELAY = 0
    SimulatorConfig.objects.update_or_create(
        pk=1, defaults={"send_status_webhooks": False, "status_delay": 0, "fail_code": None, "fail_count": 0,
                        "error_5xx_rate": 0, "error_429_rate": 0, "latency_ms": 0},
    )
    ratelimit.reset()
    return live_server


def inject(**changes) -> None:
    """Change the simulator's failure injection (fail_code, fail_count, error_5xx_rate, ...)."""
    SimulatorConfig.objects.filter(pk=1).update(**changes)
