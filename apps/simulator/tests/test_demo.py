"""The pieces of `manage.py demo` (apps/simulator/demo.py); a full start is not run here."""

import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.core import servers
from apps.simulator import demo


def test_the_demo_runs_the_procfiles_own_processes_but_release():
    processes = demo.procfile_processes()
    assert list(processes) == ["web", "ws", "worker-inbound", "worker-send", "worker", "beat"]
    procfile = demo.PROCFILE.read_text()
    for name, command in processes.items():
        assert f"{name}: {command}\n" in procfile


def test_the_childrens_environment():
    env = demo.child_env(host="127.0.0.1", port=8061, ws_port=8062, database_url="postgresql://u@127.0.0.1:5/db",
                         redis_url="redis://127.0.0.1:6/0", base={"PATH": "/usr/bin", "KEEP": "1"})
    assert env["KEEP"] == "1" and env["PATH"].endswith(":/usr/bin")
    assert env["DATABASE_URL"] == "postgresql://u@127.0.0.1:5/db"
    assert env["REDIS_URL"] == "redis://127.0.0.1:6/0"
    assert env["CELERY_BROKER_URL"] == "redis://127.0.0.1:6/1"  # its own database
    assert (env["SITE_URL"], env["WEBSOCKET_URL"]) == ("http://127.0.0.1:8061", "ws://127.0.0.1:8062/ws/inbox/")
    assert (env["PORT"], env["WS_PORT"], env["BIND_HOST"]) == ("8061", "8062", "127.0.0.1")
    assert env["GUNICORN_WORKERS"] == env["INBOUND_CONCURRENCY"] == env["WORKER_CONCURRENCY"] == "1"
    assert int(env["SEND_CONCURRENCY"]) <= 8


def test_the_demo_serves_the_host_it_was_given():
    env = demo.child_env(host="192.168.1.20", port=8061, ws_port=8062, database_url="postgresql://u@h/db",
                         redis_url="redis://h:6/0", base={"PATH": "/usr/bin"})
    assert "192.168.1.20" in env["ALLOWED_HOSTS"].split(",")
    assert "127.0.0.1" in env["ALLOWED_HOSTS"].split(",")
    given = demo.child_env(host="0.0.0.0", port=8061, ws_port=8062, database_url="postgresql://u@h/db",
                           redis_url="redis://h:6/0", base={"PATH": "/usr/bin", "ALLOWED_HOSTS": "inbox.example"})
    assert given["ALLOWED_HOSTS"] == "inbox.example"  # the operator's own list wins


def test_every_variable_the_demo_sets_is_read_by_the_procfile_or_gunicorn():
    read = demo.PROCFILE.read_text() + (demo.BASE_DIR / "config" / "gunicorn.conf.py").read_text()
    for name in [*demo.CONCURRENCY, *demo.QUIET, "PORT", "WS_PORT", "BIND_HOST"]:
        assert re.search(rf"\b{name}\b", read), name


def test_redis_db_url():
    assert servers.redis_db_url("redis://:pw@h:6379/0?x=1", 1) == "redis://:pw@h:6379/1"


@pytest.mark.django_db
def test_seed_demo_again_keeps_passwords_and_sessions(client, fast_passwords):  # noqa: F811
    from io import StringIO

    call_command("seed_demo", stdout=StringIO())
    agent = User.objects.get(username="demo-agent")
    agent.set_password("changed-by-its-owner-42")
    agent.save()
    client.force_login(agent)
    assert client.get("/inbox/").status_code == 200
    call_command("seed_demo", stdout=StringIO())
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="demo-agent", password="changed-by-its-owner-42") is not None
    assert client.get("/inbox/").status_code == 200  # still signed in


@pytest.mark.django_db
def test_the_inbox_page_gives_live_js_the_websocket_url(client, settings, fast_passwords):  # noqa: F811
    client.force_login(UserFactory())
    settings.WEBSOCKET_URL = ""
    assert "data-ws-url" not in client.get("/inbox/").content.decode()
    settings.WEBSOCKET_URL = "ws://127.0.0.1:8062/ws/inbox/"
    assert 'data-ws-url="ws://127.0.0.1:8062/ws/inbox/"' in client.get("/inbox/").content.decode()


def test_users_text_names_every_demo_user_and_the_url():
    text = "\n".join(demo.users_text("http://127.0.0.1:8061"))
    assert "http://127.0.0.1:8061" in text
    for username in ("demo-admin", "demo-supervisor", "demo-agent"):
        assert username in text
    for person in ("Carla Mendes (Admin, Django admin at /admin/)", "Bruno Lima (Supervisor)", "Ana Souza (Agent)"):
        assert person in text
