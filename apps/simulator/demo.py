"""`manage.py demo`: the whole product on embedded defaults, as the Procfile runs it.

The demo runs the Procfile's own process definitions (all but `release`), not a second
list: gunicorn, daphne, the Celery workers and beat, with honcho's Manager (prefixed
logs; Ctrl-C stops them all), each under apps/core/supervise.py, which starts it again
when it exits by itself (honcho alone would stop the whole demo). Before them: the embedded PostgreSQL and Valkey, the
migrations and the demo organisation; after the web process answers /readyz, the
start-up work that needs it (the simulator's templates synced into our tables).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from apps.core import servers, supervise

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PROCFILE = BASE_DIR / "Procfile"
SKIPPED = ("release",)
# Small for a 2-core machine; every one is read by the Procfile or config/gunicorn.conf.py.
CONCURRENCY = {
    "GUNICORN_WORKERS": "1",
    "GUNICORN_THREADS": "8",
    "INBOUND_CONCURRENCY": "1",
    "WORKER_CONCURRENCY": "1",
    "SEND_CONCURRENCY": "4",
    "SEND_DB_POOL_MAX_SIZE": "4",
}
# The console of the demo: each process's start, warnings and errors, once each, and no
# line per request. gunicorn keeps no access log (config/gunicorn.conf.py); daphne's
# writes three lines per socket (connecting, connected, disconnected), every time a page
# opens: off here, as daphne's -v 0 does (its logging otherwise is Django's LOGGING).
QUIET = {
    "DAPHNE_VERBOSITY": "0",
}


def procfile_processes(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's processes by name, in order, without `release`."""
    processes = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if not sep or line.startswith("#") or not name.strip():
            continue
        if name.strip() not in SKIPPED:
            processes[name.strip()] = command.strip()
    return processes


def supervised_processes(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's processes (`procfile_processes`), each under the supervisor
    (apps/core/supervise.py): a process that exits by itself is started again."""
    return {name: supervise.command_line(name, command) for name, command in procfile_processes(path).items()}


def child_env(*, host: str, port: int, ws_port: int, database_url: str, redis_url: str,
              base: dict | None = None) -> dict[str, str]:
    """The environment of every Procfile process of the demo."""
    env = dict(os.environ if base is None else base)
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": servers.redis_db_url(redis_url, servers.BROKER_DB),
        "SITE_URL": f"http://{host}:{port}",
        # The debug defaults, and the address the demo was asked to serve on (a LAN address).
        "ALLOWED_HOSTS": env.get("ALLOWED_HOSTS") or f"localhost,127.0.0.1,[::1],{host}",
        "WEBSOCKET_URL": f"ws://{host}:{ws_port}/ws/inbox/",
        "BIND_HOST": host,
        "PORT": str(port),
        "WS_PORT": str(ws_port),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        **CONCURRENCY,
        **QUIET,
    })
    return env


def prepare(stdout) -> None:
    """Migrations and the demo organisation (the servers are started by the settings)."""
    from io import StringIO

    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    call_command("seed_demo", stdout=StringIO())  # its users are printed once all is up
    stdout.write("Migrated; demo organisation ready.\n")


def wait_ready(url: str, timeout: float = 120.0, stop: threading.Event | None = None) -> dict | None:
    """The /readyz answer once it is 200, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    return json.loads(response.read())
        except Exception:  # noqa: BLE001 - not up yet (refused, 503)
            pass
        time.sleep(0.5)
    return None


def users_text(site_url: str) -> list[str]:
    from apps.simulator.management.commands.seed_demo import DEMO_PHONE_NUMBER_ID, DEMO_USERS, user_line

    lines = [f"Open {site_url} and sign in as:"]
    for username, (first_name, last_name), role, staff, password, _teams in DEMO_USERS:
        lines.append(user_line(username, f"{first_name} {last_name}", role, staff, password))
    lines.append(f"The demo number {DEMO_PHONE_NUMBER_ID} talks to the simulator: the customer's phone is "
                 f"at {site_url}/simulator/. Ctrl-C stops everything.")
    return lines


def run(*, host: str, port: int, ws_port: int, stdout) -> int:
    """Start the servers, prepare, run the Procfile's processes until Ctrl-C."""
    from honcho.manager import Manager
    from honcho.printer import Message


    prepare(stdout)
    env = child_env(host=host, port=port, ws_port=ws_port,
                    database_url=servers.database_url(), redis_url=servers.redis_url())
    manager = Manager()
    for name, command in supervised_processes().items():
        manager.add_process(name, command, env=env, cwd=str(BASE_DIR))

    def say(text: str) -> None:
        manager.events.put(Message(type="line", data=text + "\n", time=datetime.now(), name="demo", colour=None))

    stop = threading.Event()

    def after_ready() -> None:
        started = time.monotonic()
        ready = wait_ready(env["SITE_URL"], stop=stop)
        if ready is None:
            if not stop.is_set():
                say(f"{env['SITE_URL']}/readyz did not answer 200 in time; see the lines above.")
            return
        say("ready in %.1f s: %s" % (time.monotonic() - started,
                                      ", ".join(f"{k} ok" for k, v in ready["checks"].items() if v["ok"])))
        sync = subprocess.run([sys.executable, "manage.py", "sync_templates"], cwd=BASE_DIR, env=env,
                              capture_output=True, text=True)
        for line in (sync.stdout + sync.stderr).splitlines():
            say(f"templates: {line}")
        for line in users_text(env["SITE_URL"]):
            say(line)

    threading.Thread(target=after_ready, name="demo-ready", daemon=True).start()
    try:
        manager.loop()
    finally:
        stop.set()
    return manager.returncode or 0
