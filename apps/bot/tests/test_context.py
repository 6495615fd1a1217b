"""The bot's pure helpers: business hours, phrases, splitting, message descriptions."""

from datetime import datetime, timezone as dt_timezone

import pytest

from apps.accounts.models import Organization
from apps.bot import context


def test_business_hours_in_the_organisations_zone():
    ranges = context.parse_hours("mon-fri 09:00-12:00,14:00-18:00; sat 09:00-13:00")
    organization = Organization(timezone="America/Sao_Paulo")
    # 2026-11-23 is a Monday; 12:30 UTC is 09:30 in São Paulo.
    assert context.within_hours(ranges, context.local_now(organization, datetime(2026, 11, 23, 12, 30, tzinfo=dt_timezone.utc)))
    assert not context.within_hours(ranges, context.local_now(organization, datetime(2026, 11, 23, 11, 30, tzinfo=dt_timezone.utc)))
    assert not context.within_hours(ranges, context.local_now(organization, datetime(2026, 11, 23, 15, 30, tzinfo=dt_timezone.utc)))
    assert context.within_hours(ranges, context.local_now(organization, datetime(2026, 11, 28, 15, 59, tzinfo=dt_timezone.utc)))
    assert not context.within_hours(ranges, context.local_now(organization, datetime(2026, 11, 29, 13, 0, tzinfo=dt_timezone.utc)))
    assert context.describe_hours(context.parse_hours("fri-mon 10:00-11:00"))[:21] == "Monday 10:00-11:00, F"


@pytest.mark.parametrize("text", ["mon 9-", "someday 09:00-10:00", "mon 25:00-26:00", "mon-fri"])
def test_bad_hours_are_refused(text):
    with pytest.raises(context.HoursError):
        context.parse_hours(text)


def test_phrases_match_whole_words_without_accents_or_case():
    phrases = ["atendente", "talk to a human"]
    assert context.phrase_in(phrases, "Quero um ATENDÊNTE.") == "atendente"
    assert context.phrase_in(phrases, "can I talk to a   human?") == "talk to a human"
    assert context.phrase_in(phrases, "atendentes") is None
    assert context.phrase_in(["agent"], "the agents") is None


def test_split_prefers_boundaries_and_keeps_everything():
    text = ("word " * 1000).strip()  # 4,999 characters, no sentence
    parts = context.split_text(text)
    assert [len(p) <= 4096 for p in parts] == [True, True]
    assert " ".join(parts) == text
    solid = "x" * 9000
    assert [len(p) for p in context.split_text(solid)] == [4096, 4096, 808]
    assert context.split_text("short") == ["short"]
