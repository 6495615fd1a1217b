"""The Celery application. Tasks are discovered in every app's tasks.py."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("inbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_around_task(sender=None, **kwargs):
    """Around each task, what Django does around each request: close the database
    connections that are obsolete (CONN_MAX_AGE) or unusable, keep the others (checked
    on their next use, conn_health_checks). Celery's Django fix-up would instead close
    every connection before and after every task (each drain of the inbound worker
    paid a new PostgreSQL connection); CELERY_DB_REUSE_MAX in settings keeps it from
    doing so but for a periodic recycle."""
    from django.db import close_old_connections

    close_old_connections()


# How often a thread waiting for the GIL gets it (CPython's default: every 5 ms). A send
# worker's loop must start each call within 30 ms of its slot (apps.messaging.sending.
# pacing.LATE_SLOT) while its task threads claim and store batches; at 5 ms it sometimes could
# not when many tasks ran at once, and a call that misses its slot loses it.
SWITCH_INTERVAL = 0.001


# The queue of the send worker, the only process whose measurements asked for tuning.
TUNED_QUEUE = "outbound"


@worker_ready.connect
@worker_process_init.connect
def _prepare_worker_process(**kwargs):
    """Once a send worker's process is ready (a worker consuming TUNED_QUEUE): move
    every object it has made so far (Django, Celery, the apps: hundreds of thousands)
    out of the garbage collector's reach (gc.freeze), so that a full collection walks
    only what the tasks made (walking all of them took 100-190 ms in which no thread
    of the process ran: its loop missed its send slots, bench/send_throughput.py); and
    hand the GIL over more often (SWITCH_INTERVAL). Other workers keep Python's
    defaults."""
    if TUNED_QUEUE not in _consumed_queues():
        return
    import gc
    import sys

    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def _consumed_queues() -> set[str]:
    """The queues this worker consumes (its -Q; inherited by forked pool processes)."""
    return set(app.amqp.queues.consume_from or app.amqp.queues)
