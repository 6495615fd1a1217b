"""The supervisor `manage.py demo` runs each Procfile process under (apps/core/supervise.py):
a process that exits by itself starts again, a stop signal stops it for good."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from apps.core import supervise
from apps.simulator import demo

ROOT = Path(__file__).resolve().parents[3]

# Counts its starts in a file; the first run exits with 3 (a worker that lost Redis),
# later runs wait until a signal ends them.
CHILD = """
import pathlib, sys, time
starts = pathlib.Path(sys.argv[1])
count = int(starts.read_text() or 0) + 1 if starts.exists() else 1
starts.write_text(str(count))
if count == 1:
    sys.exit(3)
while True:
    time.sleep(0.05)
"""


def wait_for(predicate, timeout=60.0, what="the condition"):
    """Poll until `predicate()` is true; the timeout only ends a hung test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start(tmp_path, *args, command, **popen):
    log = open(tmp_path / "supervise.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.core.supervise", "--name", "worker", *args, "--", *command],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, **popen,
    )
    return process, tmp_path / "supervise.log"


def starts(path: Path) -> int:
    return int(path.read_text() or 0) if path.exists() else 0


def test_a_process_that_exits_by_itself_is_started_again_and_a_stop_signal_stops_it(tmp_path):
    counter = tmp_path / "starts"
    process, log = start(tmp_path, "--delay", "0.05", command=[sys.executable, "-c", CHILD, str(counter)])
    wait_for(lambda: starts(counter) == 2, what="the second start")
    # The signal sent to the supervisor alone is passed on to the process.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert starts(counter) == 2  # stopped for good, not started a third time
    assert "worker exited with code 3; starting it again in 0.05 s" in log.read_text()


def test_a_stop_signal_to_the_process_group_as_honcho_sends_it(tmp_path):
    counter = tmp_path / "starts"
    counter.write_text("1")  # its first run already happened: this one waits
    process, _log = start(tmp_path, command=[sys.executable, "-c", CHILD, str(counter)], start_new_session=True)
    wait_for(lambda: starts(counter) == 2, what="the process to start")
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert starts(counter) == 2


def test_a_process_that_keeps_failing_at_once_is_given_up(tmp_path):
    counter = tmp_path / "starts"
    failing = "import pathlib, sys; p = pathlib.Path(sys.argv[1]); " \
              "p.write_text(str(int(p.read_text() or 0) + 1 if p.exists() else 1)); sys.exit(7)"
    process, log = start(tmp_path, "--delay", "0.01", "--max-quick-exits", "3",
                         command=[sys.executable, "-c", failing, str(counter)])
    assert process.wait(timeout=60) == 7
    assert starts(counter) == 3
    assert "exited with code 7 3 times in a row" in log.read_text()
    # Its pauses doubled while it kept failing.
    assert "again in 0.01 s" in log.read_text() and "again in 0.02 s" in log.read_text()


def test_the_demo_runs_every_procfile_process_under_the_supervisor():
    plain = demo.procfile_processes()
    supervised = demo.supervised_processes()
    assert list(supervised) == list(plain)
    for name, command in supervised.items():
        assert command == f"{sys.executable} -m apps.core.supervise --name {name} -- {plain[name]}"


def test_the_supervised_command_line_lets_the_shell_expand_the_procfiles_variables(tmp_path):
    out = tmp_path / "out"
    line = supervise.command_line("echo", f"sh -c 'echo ${{DEMO_VALUE:-unset}} > {out}; sleep 30'")
    process = subprocess.Popen(line, shell=True, cwd=ROOT, env={**os.environ, "DEMO_VALUE": "42"},
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: out.exists() and out.read_text().strip(), what="the command to run")
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
    assert out.read_text().strip() == "42"
