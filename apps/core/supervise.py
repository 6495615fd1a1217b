"""Keep one process running: `python -m apps.core.supervise --name NAME -- COMMAND ...`.

`manage.py demo` runs each Procfile process under it (honcho, which runs them, stops
every process as soon as one exits, and restarts none): a process that exits by
itself (a Celery worker that lost Redis, a crash) is started again after a pause. The
pause starts at `--delay` seconds and doubles, up to MAX_DELAY, while the process keeps
exiting within START_GRACE seconds of its start; a run longer than that resets it.
After MAX_QUICK_EXITS such quick exits in a row it gives up and exits with the
process's code (a command that cannot start: the demo then stops, as honcho would).

SIGTERM, SIGINT and SIGHUP stop it: nothing is restarted, the process gets the signal
and its exit code is returned. honcho signals the whole process group, which holds the
process too; the signal is passed on only if the process is still running
FORWARD_AFTER seconds later (a signal sent to this process alone), so a process is not
told twice at once.

Production deployments have their own supervisor: compose's `restart: unless-stopped`,
systemd's `Restart=always` (docs/operations.md, "Supervision").
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

MAX_DELAY = 30.0
START_GRACE = 10.0
MAX_QUICK_EXITS = 5
FORWARD_AFTER = 0.5
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Supervisor:
    def __init__(self, command: list[str], *, name: str, delay: float = 1.0, start_grace: float = START_GRACE,
                 max_quick_exits: int = MAX_QUICK_EXITS, out=None):
        self.command, self.name, self.first_delay = command, name, delay
        self.start_grace, self.max_quick_exits = start_grace, max_quick_exits
        self.out = out or sys.stderr
        self.stop_signal: int | None = None
        self.stop_at = 0.0

    def say(self, text: str) -> None:
        print(f"supervise: {self.name} {text}", file=self.out, flush=True)

    def stop(self, signum, _frame=None) -> None:
        if self.stop_signal is None:
            self.stop_signal, self.stop_at = signum, time.monotonic()

    def run(self) -> int:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.stop)
        delay, quick = self.first_delay, 0
        while True:
            started = time.monotonic()
            code = self._run_once()
            if self.stop_signal is not None:
                return code
            quick = quick + 1 if time.monotonic() - started < self.start_grace else 0
            if quick >= self.max_quick_exits:
                self.say(f"exited with code {code} {quick} times in a row within {self.start_grace:g} s of its "
                         "start: giving up")
                return code or 1
            if not quick:
                delay = self.first_delay
            self.say(f"exited with code {code}; starting it again in {delay:g} s")
            if self._sleep(delay):
                return code
            if quick:
                delay = min(MAX_DELAY, delay * 2)

    def _run_once(self) -> int:
        """Run the command once; its exit code (128 + the signal's number when a
        signal ended it, as a shell says)."""
        child = subprocess.Popen(self.command)
        forwarded = False
        while True:
            try:
                code = child.wait(timeout=0.1)
                return 128 - code if code < 0 else code
            except subprocess.TimeoutExpired:
                pass
            if self.stop_signal is not None and not forwarded and time.monotonic() - self.stop_at >= FORWARD_AFTER:
                forwarded = True
                child.send_signal(self.stop_signal)

    def _sleep(self, seconds: float) -> bool:
        """Sleep, or stop early when told to stop (True then)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.stop_signal is not None:
                return True
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
        return self.stop_signal is not None


def command_line(name: str, command: str, *, python: str = sys.executable) -> str:
    """A shell command line that runs `command` (itself a shell command line, as a
    Procfile gives it) under the supervisor; the shell expands its variables."""
    return f"{python} -m apps.core.supervise --name {name} -- {command}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.core.supervise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="process")
    parser.add_argument("--delay", type=float, default=1.0, help="first pause before a restart, in seconds")
    parser.add_argument("--start-grace", type=float, default=START_GRACE)
    parser.add_argument("--max-quick-exits", type=int, default=MAX_QUICK_EXITS)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    return Supervisor(command, name=args.name, delay=args.delay, start_grace=args.start_grace,
                      max_quick_exits=args.max_quick_exits).run()


if __name__ == "__main__":
    sys.exit(main())
