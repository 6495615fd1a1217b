"""The broker and the worker of the test suite.

Tasks are sent as in production (`apps.core.tasks.dispatch` → `Task.apply_async`, or
`Celery.send_task` for a task given by name); here both are replaced: a task sent with no delay runs at once, in the
thread that sent it (on commit, as a worker would pick it up next), and a task
sent with a delay (countdown or eta: a retry, a look later) waits in `delayed`
until the test runs it with `run_delayed()`. The inbound worker's wake-up after a
stored delivery sends the drain task in the same way, without its thread.

The tests that start real `celery worker` processes on the real broker use the
`real_broker` fixture, which puts Celery's own `apply_async` back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from celery import Celery
from celery.app.task import Task


@dataclass
class Sent:
    task: Task
    args: tuple
    kwargs: dict
    countdown: float | None


@dataclass
class TaskQueue:
    sent: list[Sent] = field(default_factory=list)
    delayed: list[Sent] = field(default_factory=list)

    def apply_async(self, task: Task, args=None, kwargs=None, countdown=None, eta=None, **_options):
        item = Sent(task, tuple(args or ()), dict(kwargs or {}), countdown)
        self.sent.append(item)
        if countdown or eta:
            self.delayed.append(item)
            return None
        return task(*item.args, **item.kwargs)

    def names(self) -> list[str]:
        return [item.task.name for item in self.sent]

    def run_delayed(self, name: str | None = None) -> int:
        """Run the delayed tasks (those named `name` only, if given), oldest first,
        including those they delay in turn once; returns how many ran."""
        due = [item for item in self.delayed if name is None or item.task.name == name]
        for item in due:
            self.delayed.remove(item)
        for item in due:
            item.task(*item.args, **item.kwargs)
        return len(due)


_CELERY_APPLY_ASYNC = Task.apply_async
_CELERY_SEND_TASK = Celery.send_task
_WAKE_DRAIN = None


def install(monkeypatch) -> TaskQueue:
    from apps.inbound.services import receiving

    global _WAKE_DRAIN
    if _WAKE_DRAIN is None:
        _WAKE_DRAIN = receiving.wake_drain
    queue = TaskQueue()

    def apply_async(task, args=None, kwargs=None, countdown=None, eta=None, **options):
        return queue.apply_async(task, args, kwargs, countdown, eta, **options)

    def wake_drain():
        # A test may have left the "drain queued" mark (a drain task it swallowed).
        receiving._drain_started()
        receiving.drain_request()

    def send_task(app, name, args=None, kwargs=None, countdown=None, eta=None, **options):
        app.loader.import_default_modules()
        return queue.apply_async(app.tasks[name], args, kwargs, countdown, eta, **options)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    monkeypatch.setattr(Celery, "send_task", send_task)
    monkeypatch.setattr(receiving, "wake_drain", wake_drain)
    return queue


def uninstall(monkeypatch) -> None:
    from apps.inbound.services import receiving

    monkeypatch.setattr(Task, "apply_async", _CELERY_APPLY_ASYNC)
    monkeypatch.setattr(Celery, "send_task", _CELERY_SEND_TASK)
    monkeypatch.setattr(receiving, "wake_drain", _WAKE_DRAIN)
