"""How long `manage.py demo` takes to its first page, and the memory it holds.

    .venv/bin/python bench/demo_start.py [--port 8071]

Runs the demo twice on a fresh VAR_DIR of its own (a temporary directory, so the
worktree's var/ is untouched): cold (a fresh clone: the embedded PostgreSQL's data
directory created, every migration, the seed) and warm (the embedded servers still
running, as on a developer's second `make demo`). For each: seconds from the command
to the first 200 of the login page, and to the printed demo users (the template sync
done); then the memory of every process of the demo, the embedded PostgreSQL and
Valkey included: PSS (shared pages counted once, shared among the processes) and the
plain sum of RSS. Goals (issue 17): warm start <= 15 s to the first page, <= 1.5 GB.
The installation of the virtualenv is not counted (make demo does it once).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
GOAL_WARM_S, GOAL_MEMORY_GB = 15.0, 1.5


def _first_page(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    return False


def _memory(demo: psutil.Process, var_dir: Path) -> tuple[float, float, int]:
    procs = {demo.pid: demo, **{p.pid: p for p in demo.children(recursive=True)}}
    for kind in ("postgres", "valkey"):
        state = json.loads((var_dir / "servers" / f"{kind}.json").read_text())
        server = psutil.Process(state["pid"])
        procs.update({server.pid: server, **{p.pid: p for p in server.children(recursive=True)}})
    pss = rss = 0
    for proc in procs.values():
        try:
            info = proc.memory_full_info()
            pss, rss = pss + info.pss, rss + info.rss
        except psutil.Error:
            pass
    return pss / 2**30, rss / 2**30, len(procs)


def run_once(port: int, env: dict, var_dir: Path, label: str) -> dict:
    started = time.monotonic()
    demo = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(port)], cwd=BASE_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    users = threading.Event()

    def read():
        for line in demo.stdout:
            if "sign in as" in line:
                users.set()

    threading.Thread(target=read, daemon=True).start()
    result = {"run": label}
    try:
        if not _first_page(f"http://127.0.0.1:{port}/accounts/login/", started + 300):
            raise SystemExit(f"{label}: no first page in 300 s")
        result["first_page_s"] = round(time.monotonic() - started, 1)
        if not users.wait(120):
            raise SystemExit(f"{label}: the demo users were not printed")
        result["users_printed_s"] = round(time.monotonic() - started, 1)
        time.sleep(5)  # settled: every worker forked and connected
        pss, rss, count = _memory(psutil.Process(demo.pid), var_dir)
        result.update(pss_gb=round(pss, 2), rss_sum_gb=round(rss, 2), processes=count)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(60)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8071)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as folder:
        var_dir = Path(folder)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
        env["VAR_DIR"] = str(var_dir)
        try:
            results = [run_once(args.port, env, var_dir, "cold"), run_once(args.port, env, var_dir, "warm")]
        finally:
            subprocess.run([sys.executable, "manage.py", "servers", "stop"], cwd=BASE_DIR, env=env,
                           capture_output=True)
    for r in results:
        print(f"{r['run']:>4}: first page {r['first_page_s']:5.1f} s, users printed {r['users_printed_s']:5.1f} s, "
              f"memory {r['pss_gb']:.2f} GB PSS ({r['rss_sum_gb']:.2f} GB summed RSS, {r['processes']} processes)")
    warm = results[1]
    print(f"goals: warm first page <= {GOAL_WARM_S:.0f} s: {warm['first_page_s']} s "
          f"({'met' if warm['first_page_s'] <= GOAL_WARM_S else 'NOT met'}); memory <= {GOAL_MEMORY_GB} GB: "
          f"{max(r['pss_gb'] for r in results)} GB PSS "
          f"({'met' if max(r['pss_gb'] for r in results) <= GOAL_MEMORY_GB else 'NOT met'})")


if __name__ == "__main__":
    main()
