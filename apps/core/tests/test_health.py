import pytest

from apps.core import health

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_every_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {name: {"ok": True} for name in ("database", "redis", "channel_layer", "broker", "storage")},
    }


def test_readyz_names_a_broken_dependency_with_503(client, monkeypatch):
    def broken():
        raise ConnectionError("redis is down")

    monkeypatch.setitem(health.CHECKS, "channel_layer", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["channel_layer"] == {"ok": False, "error": "ConnectionError: redis is down"}
    assert body["checks"]["database"] == {"ok": True}


def test_readyz_reports_a_check_that_returns_an_error(client, monkeypatch):
    monkeypatch.setitem(health.CHECKS, "storage", lambda: "read back differs")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == {"ok": False, "error": "read back differs"}


def test_health_endpoints_accept_only_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
