"""A worker process, once ready, freezes the objects it made while starting and hands
the GIL over more often (config/celery.py)."""

import gc
import sys

from config import celery


def test_a_ready_worker_freezes_its_startup_objects_and_switches_threads_more_often():
    gc.unfreeze()
    interval = sys.getswitchinterval()
    assert gc.get_freeze_count() == 0
    try:
        celery._prepare_worker_process()
        assert gc.get_freeze_count() > 1000  # Django's, Celery's and the apps' objects
        assert sys.getswitchinterval() == celery.SWITCH_INTERVAL < 0.005
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
