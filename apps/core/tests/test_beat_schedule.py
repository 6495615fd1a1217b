"""The beat schedule names tasks the workers know, each routed to a queue a Procfile worker consumes."""

import re

from django.conf import settings

from apps.simulator import demo
from config.celery import app


def test_every_periodic_entry_names_a_registered_task_on_a_consumed_queue():
    app.loader.import_default_modules()
    procfile = demo.PROCFILE.read_text()
    consumed = set()
    for queues in re.findall(r"celery -A config worker[^\n]*?-Q (\S+)", procfile):
        consumed.update(queues.split(","))
    assert consumed, "no worker with -Q in the Procfile"
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, f"{name}: no task named {entry['task']}"
        queue = settings.CELERY_TASK_ROUTES.get(entry["task"], {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)
        assert queue in consumed, f"{name}: {entry['task']} goes to {queue!r}, which no Procfile worker consumes"


def test_a_periodic_run_not_started_by_the_next_is_dropped():
    """While a queue's worker is stopped, beat's runs wait in the broker: the worker that
    comes back runs the last, not one per missed interval."""
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert 0 < entry["options"]["expires"] <= entry["schedule"], name


def test_the_send_sweep_runs_every_few_seconds_where_the_send_workers_run():
    entry = settings.CELERY_BEAT_SCHEDULE["messaging-sweep-pending"]
    assert entry["schedule"] <= 5
    assert settings.CELERY_TASK_ROUTES["messaging.sweep_pending"]["queue"] == "outbound"
