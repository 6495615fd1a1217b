"""Periodic tasks on embedded defaults.

In production Celery beat runs settings.CELERY_BEAT_SCHEDULE. With the thread
runner there is no beat process, so the development server starts this small
scheduler: one daemon thread that dispatches each entry when it is due, through
the same runner as every other task.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

from celery.schedules import maybe_schedule
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)
_started = False


def _resolve(task_name: str):
    from config.celery import app

    app.loader.import_default_modules()
    if task_name in app.tasks:
        return app.tasks[task_name]
    module, _, attr = task_name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def due_entries(schedule: dict, last_run: dict, now) -> list[str]:
    """Names of the entries due at `now` (an entry never run is due at once)."""
    due = []
    for name, entry in schedule.items():
        if last_run.get(name) is None or maybe_schedule(entry["schedule"]).is_due(last_run[name]).is_due:
            due.append(name)
    return due


def _loop(interval: float) -> None:
    from .tasks import dispatch

    last_run: dict = {}
    while True:
        now = timezone.now()
        schedule = settings.CELERY_BEAT_SCHEDULE
        for name in due_entries(schedule, last_run, now):
            entry = schedule[name]
            last_run[name] = now
            try:
                dispatch(_resolve(entry["task"]), *entry.get("args", ()), **entry.get("kwargs", {}))
            except Exception:
                logger.exception("periodic task %s could not be dispatched", name)
        time.sleep(interval)


def start(interval: float = 5.0) -> bool:
    """Start the scheduler thread once per process; only for the thread runner."""
    global _started
    if _started or settings.TASK_RUNNER != "thread" or not settings.CELERY_BEAT_SCHEDULE:
        return False
    _started = True
    threading.Thread(target=_loop, args=(interval,), name="inbox-scheduler", daemon=True).start()
    return True
