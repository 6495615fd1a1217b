"""The simulator is a developer's stand-in for Meta, one for every organisation: off in
a production configuration unless a setting turns it on, and its failure controls
(the control API, the admin pages) for platform staff only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.simulator.checks import simulator_in_production
from apps.simulator.models import SimulatedMessage, SimulatorConfig
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

ROOT = Path(__file__).resolve().parents[3]
CONTROL_FIELDS = {"fail_code": None, "fail_count": 0, "error_5xx_rate": 0.0, "latency_ms": 0}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def platform_admin():
    return UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")


def config_state() -> dict:
    config = SimulatorConfig.get()
    return {field: getattr(config, field) for field in CONTROL_FIELDS}


def org_admin_with_every_simulator_permission():
    admin = AdminFactory(is_staff=True)
    admin.user_permissions.add(*Permission.objects.filter(content_type__app_label="simulator"))
    return type(admin).objects.get(pk=admin.pk)


@pytest.fixture
def config(db):
    SimulatorConfig.objects.update_or_create(pk=1, defaults=CONTROL_FIELDS)
    return config_state()


# --- the control API ---------------------------------------------------------------

@pytest.mark.parametrize("who", ["org_admin", "org_superuser", "staff_without_organisation", "agent"])
def test_the_control_api_is_refused_to_all_but_platform_staff(config, who):
    user = {
        "org_admin": lambda: AdminFactory(is_staff=True),
        # A superuser flag inside an organisation is not the platform's.
        "org_superuser": lambda: AdminFactory(is_staff=True, is_superuser=True),
        "staff_without_organisation": lambda: UserFactory(organization=None, is_staff=True),
        "agent": lambda: UserFactory(is_staff=True),
    }[who]()
    client = logged_in(user)
    assert client.get("/simulator/control/").status_code == 403
    response = client.post("/simulator/control/", {"fail_code": 131026, "fail_count": 5},
                           content_type="application/json")
    assert (response.status_code, response.json()) == (403, {"detail": "Platform staff only."})
    assert config_state() == config


def test_the_control_api_is_refused_without_a_login(config):
    response = Client().post("/simulator/control/", {"fail_count": 5}, content_type="application/json")
    assert response.status_code == 403
    assert config_state() == config


def test_platform_staff_change_the_failure_injection(config):
    client = logged_in(platform_admin())
    response = client.post("/simulator/control/", {"fail_code": 131026, "fail_count": 2},
                           content_type="application/json")
    assert response.status_code == 200
    assert (response.json()["fail_code"], response.json()["fail_count"]) == (131026, 2)
    assert config_state() == {**config, "fail_code": 131026, "fail_count": 2}
    for body in ("[1, 2]", "not json", '{"nope": 1}'):
        refused = client.post("/simulator/control/", body, content_type="application/json")
        assert refused.status_code == 400, body
    assert config_state() == {**config, "fail_code": 131026, "fail_count": 2}


# --- the admin pages ---------------------------------------------------------------

SIMULATOR_PAGES = ["simulatorconfig", "simulatedrequest", "simulatedmessage", "simulatedmedia", "simulatedtemplate"]


@pytest.mark.parametrize("page", SIMULATOR_PAGES)
def test_simulator_admin_pages_are_for_platform_staff_only(config, page):
    client = logged_in(org_admin_with_every_simulator_permission())
    assert client.get(f"/admin/simulator/{page}/").status_code == 403
    assert client.get(f"/admin/simulator/{page}/add/").status_code == 403
    assert "/admin/simulator/" not in client.get("/admin/").content.decode()
    assert logged_in(platform_admin()).get(f"/admin/simulator/{page}/").status_code == 200


def test_an_org_admin_cannot_change_the_simulator_settings_in_admin(config):
    client = logged_in(org_admin_with_every_simulator_permission())
    response = client.post("/admin/simulator/simulatorconfig/1/change/", {
        "status_delay": 0, "fail_code": 131026, "fail_count": 9, "error_5xx_rate": 1, "error_429_rate": 0,
        "retry_after": 1, "latency_ms": 0,
    })
    assert response.status_code == 403
    assert config_state() == config


# --- the customer phone --------------------------------------------------------------

def test_the_phone_cannot_answer_another_numbers_message(db, settings):
    settings.SIMULATOR_WEBHOOK_URL = "http://127.0.0.1:9/unused/"
    admin = AdminFactory(is_staff=True)
    mine = WhatsAppNumberFactory(organization=admin.organization)
    theirs = WhatsAppNumberFactory()
    SimulatedMessage.objects.create(
        phone_number_id=theirs.phone_number_id, customer="5511999990000", direction="out",
        wamid="wamid.theirs", type="interactive", status="sent",
        payload={"interactive": {"action": {"buttons": [{"reply": {"id": "secret-id", "title": "Their secret"}}]}}},
    )
    before = SimulatedMessage.objects.count()
    response = logged_in(admin).post(f"/simulator/phone/{mine.pk}/send/", {
        "phone": "5511999990000", "type": "button", "target": "wamid.theirs", "button": "0",
    })
    assert response.status_code == 400
    assert SimulatedMessage.objects.count() == before


# --- the settings --------------------------------------------------------------------

def settings_with(**environ) -> dict:
    """config/settings.py as a fresh process reads it with `environ` alone set."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DEBUG", "SECRET_KEY", "GRAPH_API_BASE", "SIMULATOR_ENABLED", "SITE_URL")}
    env.update(environ)
    code = ("import json, config.settings as s; "
            "print(json.dumps([s.DEBUG, s.SIMULATOR_ENABLED, s.GRAPH_API_BASE]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    debug, enabled, base = json.loads(out.stdout.strip().splitlines()[-1])
    return {"DEBUG": debug, "SIMULATOR_ENABLED": enabled, "GRAPH_API_BASE": base}


PRODUCTION = {"SECRET_KEY": "x" * 50, "FIELD_ENCRYPTION_KEY": "KJx-P8gEv1dS0M7iB0xEgC8mEWxGv1B1eb2ruJ7PgiI=",
              "SITE_URL": "https://inbox.example.com"}


def test_production_with_metas_graph_api_has_no_simulator():
    assert settings_with(**PRODUCTION, GRAPH_API_BASE="https://graph.facebook.com") == {
        "DEBUG": False, "SIMULATOR_ENABLED": False, "GRAPH_API_BASE": "https://graph.facebook.com"}


def test_production_without_a_graph_api_base_talks_to_meta_not_the_simulator():
    assert settings_with(**PRODUCTION) == {
        "DEBUG": False, "SIMULATOR_ENABLED": False, "GRAPH_API_BASE": "https://graph.facebook.com"}


def test_production_runs_the_simulator_only_when_told():
    assert settings_with(**PRODUCTION, SIMULATOR_ENABLED="true") == {
        "DEBUG": False, "SIMULATOR_ENABLED": True, "GRAPH_API_BASE": "https://inbox.example.com/simulator/graph"}


def test_a_developers_machine_runs_the_simulator_by_default():
    assert settings_with() == {
        "DEBUG": True, "SIMULATOR_ENABLED": True, "GRAPH_API_BASE": "http://127.0.0.1:8000/simulator/graph"}
    assert settings_with(GRAPH_API_BASE="https://graph.facebook.com")["SIMULATOR_ENABLED"] is False


def test_the_deploy_check_warns_of_a_simulator_with_debug_off(settings):
    settings.DEBUG, settings.SIMULATOR_ENABLED = False, True
    assert [w.id for w in simulator_in_production()] == ["simulator.W001"]
    settings.SIMULATOR_ENABLED = False
    assert simulator_in_production() == []
    settings.DEBUG, settings.SIMULATOR_ENABLED = True, True
    assert simulator_in_production() == []
