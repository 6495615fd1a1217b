"""phone_number_quality_update: its event (FLAGGED, UNFLAGGED...) is stored as the
number's last quality event, never as its quality rating; the messaging limit comes
from max_daily_conversations_per_business (current_limit in older deliveries); a late,
older notice changes nothing (fixtures from Meta's reference)."""

from datetime import UTC, datetime

import pytest

from apps.inbound.models import AccountEvent
from apps.whatsapp.tests.utils import load_fixture

pytestmark = pytest.mark.django_db


def at(ts):
    return datetime.fromtimestamp(ts, tz=UTC)


def test_flagged_is_an_event_not_a_rating(deliver, number):
    number.quality_rating = "GREEN"
    number.save()
    deliver(load_fixture("phone_number_quality_flagged.json"))
    number.refresh_from_db()
    assert (number.quality_rating, number.messaging_limit) == ("GREEN", "TIER_2K")
    assert (number.quality_event, number.quality_event_at) == ("FLAGGED", at(1739321024))
    assert AccountEvent.objects.get().event == "FLAGGED"


def test_unflagged_later_and_a_late_flagged_changes_nothing(deliver, number):
    deliver(load_fixture("phone_number_quality_unflagged.json"))
    deliver(load_fixture("phone_number_quality_flagged.json"))  # sent a day before, delivered after
    number.refresh_from_db()
    assert (number.quality_event, number.messaging_limit, number.quality_rating) == ("UNFLAGGED", "TIER_10K", "")
    assert number.quality_event_at == at(1739407424)
    assert sorted(AccountEvent.objects.values_list("event", flat=True)) == ["FLAGGED", "UNFLAGGED"]


def test_a_delivery_without_the_new_limit_field_uses_current_limit(deliver, number):
    deliver(load_fixture("phone_number_quality_update.json"))
    number.refresh_from_db()
    assert (number.messaging_limit, number.quality_event, number.quality_rating) == ("TIER_250", "DOWNGRADE", "")
