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


# The workers whose measurements asked for tuning: the send worker (its loop's slots,
# bench/send_throughput.py) and the inbound worker (its drains' CPU per message,
# bench/webhook_ingest.py; docs/benchmarks.md).
FROZEN_QUEUES = {"outbound", "inbound"}
SWITCH_QUEUES = {"outbound"}


@worker_ready.connect
@worker_process_init.connect
def _prepare_worker_process(**kwargs):
    """Once a send or inbound worker's process is ready: move every object it has made
    so far (Django, Celery, the apps: hundreds of thousands) out of the garbage
    collector's reach (gc.freeze), so that a collection walks only what the tasks made.
    In the send worker, walking all of them took 100-190 ms in which no thread of the
    process ran, and its loop missed its send slots; in the inbound worker, the walks
    cost the drain a fifth of its CPU per message. The send worker also hands the GIL
    over more often (SWITCH_INTERVAL). Other workers keep Python's defaults."""
    queues = _consumed_queues()
    if queues & FROZEN_QUEUES:
        import gc

        gc.collect()
        gc.freeze()
    if queues & SWITCH_QUEUES:
        import sys

        sys.setswitchinterval(SWITCH_INTERVAL)


# The sweep of each queue, sent by a worker of that queue as soon as it is ready: a
# worker restarted after a crash settles what the dead one left (its claims, its
# deliveries) at once rather than at beat's next run (issue 19; docs/operations.md).
SWEEPS_AT_START = {"outbound": ("messaging.sweep_pending", {}),
                   "inbound": ("inbound.sweep_webhook_events", {"at_start": True})}


@worker_ready.connect
def _sweep_at_start(**kwargs):
    for queue in sorted(_consumed_queues() & SWEEPS_AT_START.keys()):
        try:
            name, kwargs = SWEEPS_AT_START[queue]
            app.send_task(name, kwargs=kwargs, queue=queue, expires=60)
        except Exception:  # the broker away: beat's periodic sweep does it later
            import logging

            logging.getLogger(__name__).warning("the start sweep of %s was not queued", queue, exc_info=True)


def _consumed_queues() -> set[str]:
    """The queues this worker consumes (its -Q; inherited by forked pool processes)."""
    return set(app.amqp.queues.consume_from or app.amqp.queues)
