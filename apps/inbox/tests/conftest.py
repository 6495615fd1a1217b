"""The inbox tests' shared fixtures: the world of build_world (an organisation with
its agent, colleague, supervisor, foreign organisation and their conversations), a
client signed in as its agent, fast password hashing, and the Graph client's
connections dropped after each test. Helpers are in helpers.py."""

import pytest

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def agent_client(client, world):
    client.force_login(world.agent)
    return client


@pytest.fixture(autouse=True)
def _release_graph_connections():
    """After a test that called the simulator on live_server, drop the Graph client's
    kept-alive connections so the server's threads end with their database connections."""
    yield
    from apps.providers.meta import http

    http.reset()
