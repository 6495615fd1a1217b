"""The console of `make demo`: each process sets its logging up as it does when the demo
runs it (in a process of its own, as the real one), and a record is written once, a
request or a task writes no line, and neither does the simulator page's polling.

The processes are the Procfile's, with the demo's environment (apps/simulator/demo.py): the
web (gunicorn: its settings file, then Django's LOGGING), the live socket (daphne: its
command line, then Django's LOGGING) and a Celery worker (Celery's logging set-up after
Django's, as the worker does it)."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from apps.simulator import demo

MARK = "demo-logging-probe"

# Run in a fresh interpreter: what one process of the demo writes when its code logs.
PROBE = r"""
import json, logging, os, sys
kind = sys.argv[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if kind == "ws":
    # daphne.cli.CommandLineInterface.run: the command line's verbosity, before the app.
    from daphne.cli import CommandLineInterface
    args = CommandLineInterface().parser.parse_args(json.loads(sys.argv[2]))
    logging.basicConfig(level={0: logging.WARN, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}[args.verbosity])
    access_log = bool(args.access_log) or args.verbosity >= 1  # daphne writes it to stdout then
    import config.asgi  # noqa: F401  (Django's set-up, LOGGING)
    print(json.dumps({"access_log": access_log}))
elif kind == "web":
    import config.wsgi  # noqa: F401
elif kind == "worker":
    from config.celery import app
    worker = app.Worker(queues=["probe"], concurrency=1, hostname="probe@demo", loglevel="WARNING")
    worker.on_init_blueprint()  # where the worker sets its logging up
for name in ("django.request", "apps.messaging.sending.run", "celery.app.trace", "daphne.server", "py.warnings"):
    logging.getLogger(name).warning("%s %s", "MARK", name)
logging.getLogger("httpx2").info("%s %s", "MARK", "httpx2")  # a line per call to the AI
if kind == "worker":  # a line per task received, and per task done
    for name in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).info("%s %s", "MARK", name)
if kind == "web":
    from django.test import Client
    from django.test.utils import setup_test_environment
    setup_test_environment()
    client = Client()
    # The simulator phone's polling (every 2 s), and a page: answered, logged by no one.
    for path in ("/simulator/phone/1/15550100101/thread/", "/accounts/login/"):
        assert client.get(path).status_code in (200, 302), path
""".replace("MARK", MARK)


def _demo_env() -> dict:
    """The demo's environment on the tests' servers (tests/servers.py exports them)."""
    env = demo.child_env(host="127.0.0.1", port=8061, ws_port=8062, database_url=os.environ["DATABASE_URL"],
                         redis_url=os.environ["REDIS_URL"])
    env["PYTHONPATH"] = str(demo.BASE_DIR)
    return env


def _run(kind: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE, kind, *args], cwd=demo.BASE_DIR, env=_demo_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def _ws_argv() -> list[str]:
    """daphne's arguments as the demo's Procfile line gives them (its ${NAME:-default}
    words read from the demo's environment)."""
    env = _demo_env()
    words = []
    for word in shlex.split(demo.procfile_processes()["ws"]):
        if word.startswith("${") and word.endswith("}"):
            name, _, default = word[2:-1].partition(":-")
            word = env.get(name, default)
        words.append(word)
    assert words[0] == "daphne"
    return words[1:]


@pytest.mark.parametrize("kind", ["web", "ws", "worker"])
def test_each_record_is_written_once_and_requests_tasks_and_polling_write_nothing(kind):
    args = [json.dumps(_ws_argv())] if kind == "ws" else []
    output = _run(kind, *args)
    lines = [line for line in output.splitlines() if MARK in line]
    written = sorted(line.split(MARK)[1].split()[0] for line in lines)
    # Once each: no second handler (Django's own console beside the root's, Celery's
    # beside Django's) writes it again.
    assert written == sorted(["django.request", "apps.messaging.sending.run", "celery.app.trace", "daphne.server",
                              "py.warnings"]), output[-3000:]
    # No line per call to the AI or per task, and the requests (the polling among them)
    # wrote nothing at all.
    assert "HTTP Request" not in output and "GET /" not in output and "/thread/" not in output
    if kind == "ws":
        assert json.loads(output.splitlines()[0]) == {"access_log": False}


def test_the_demos_daphne_keeps_no_access_log_and_production_keeps_its_own():
    """daphne writes three lines for every socket (a page opened or reloaded): off in the
    demo; production's Procfile and docker-compose keep daphne's default."""
    from daphne.cli import CommandLineInterface

    args = CommandLineInterface().parser.parse_args(_ws_argv())
    assert (args.verbosity, args.access_log) == (0, None)
    assert "${DAPHNE_VERBOSITY:-1}" in demo.procfile_processes()["ws"]


def test_gunicorn_keeps_no_access_log():
    """gunicorn reads its settings file as module globals (Application.load_config_from_file)."""
    import runpy

    from gunicorn.config import Config

    config = Config()
    for name, value in runpy.run_path(str(demo.BASE_DIR / "config" / "gunicorn.conf.py")).items():
        if name in config.settings:
            config.set(name, value)
    assert config.accesslog is None
