from datetime import timedelta

from django.utils import timezone

from apps.core.scheduler import due_entries


def test_entries_are_due_first_at_once_then_after_their_interval():
    schedule = {"sweep": {"task": "x", "schedule": 60.0}, "daily": {"task": "y", "schedule": timedelta(days=1)}}
    now = timezone.now()
    assert due_entries(schedule, {}, now) == ["sweep", "daily"]
    just_ran = {"sweep": now, "daily": now}
    assert due_entries(schedule, just_ran, now) == []
    later = {"sweep": now - timedelta(seconds=61), "daily": now - timedelta(hours=1)}
    assert due_entries(schedule, later, now) == ["sweep"]
