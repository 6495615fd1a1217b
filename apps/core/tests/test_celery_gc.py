"""A worker process freezes the objects it made while starting (config/celery.py)."""

import gc

from config import celery


def test_a_ready_worker_freezes_its_startup_objects():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        celery._freeze_startup_objects()
        assert gc.get_freeze_count() > 1000  # Django's, Celery's and the apps' objects
    finally:
        gc.unfreeze()
