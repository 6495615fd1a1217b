"""Meta's account-level notices read into HealthNotice, from the payloads of Meta's
webhook reference (apps/whatsapp/tests/fixtures/)."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.providers.meta.account_health import (
    BUSINESS_INITIATED,
    CRITICAL,
    INFO,
    WARNING,
    read_notice,
)

FIXTURES = Path(__file__).resolve().parents[3] / "whatsapp" / "tests" / "fixtures"


def change(name: str) -> tuple[str, dict]:
    body = json.loads((FIXTURES / name).read_text())
    first = body["entry"][0]["changes"][0]
    return first["field"], first["value"]


def test_a_restriction_says_what_it_stops_and_until_when():
    notice = read_notice(*change("account_update_restriction.json"))
    assert (notice.event, notice.severity, notice.stops_all) == (
        "ACCOUNT_RESTRICTION",
        CRITICAL,
        False,
    )
    assert [(r.type, r.covers) for r in notice.restrictions] == [
        ("RESTRICTED_BIZ_INITIATED_MESSAGING", BUSINESS_INITIATED),
        ("RESTRICTED_ADD_PHONE_NUMBER_ACTION", ""),
    ]
    assert notice.restrictions[0].expires_at == datetime(2100, 1, 1, tzinfo=UTC)


def test_a_disabled_account_stops_everything_and_a_reinstated_one_lifts_it():
    disabled = read_notice(*change("account_update_disabled.json"))
    assert (disabled.severity, disabled.stops_all, disabled.lifts_all) == (
        CRITICAL,
        True,
        False,
    )
    assert disabled.details == {"ban_state": "DISABLE", "ban_date": "April 17, 2025"}
    reinstated = read_notice(*change("account_update_reinstated.json"))
    assert (reinstated.severity, reinstated.stops_all, reinstated.lifts_all) == (
        INFO,
        False,
        True,
    )


@pytest.mark.parametrize(
    "fixture, field, event, severity",
    [
        ("account_update.json", "account_update", "ACCOUNT_VIOLATION", WARNING),
        (
            "account_alerts.json",
            "account_alerts",
            "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED",
            WARNING,
        ),
        ("account_review_update.json", "account_review_update", "REJECTED", CRITICAL),
        (
            "business_capability_update.json",
            "business_capability_update",
            "CAPABILITY_UPDATE",
            INFO,
        ),
        (
            "phone_number_name_update.json",
            "phone_number_name_update",
            "REJECTED",
            WARNING,
        ),
        (
            "phone_number_quality_update.json",
            "phone_number_quality_update",
            "DOWNGRADE",
            WARNING,
        ),
        (
            "phone_number_quality_flagged.json",
            "phone_number_quality_update",
            "FLAGGED",
            WARNING,
        ),
        (
            "phone_number_quality_unflagged.json",
            "phone_number_quality_update",
            "UNFLAGGED",
            INFO,
        ),
        ("security.json", "security", "PIN_RESET_SUCCESS", CRITICAL),
    ],
)
def test_each_field_is_read(fixture, field, event, severity):
    notice = read_notice(*change(fixture))
    assert (notice.field, notice.event, notice.severity) == (field, event, severity)
    assert notice.summary


def test_details_of_alerts_names_capabilities_and_security():
    alert = read_notice(*change("account_alerts.json"))
    assert alert.summary.startswith(
        "Your request for increased messaging limits was deferred"
    )
    assert alert.details["entity_id"] == "106540352242922"
    name = read_notice(*change("phone_number_name_update.json"))
    assert (name.display_phone_number, name.details["requested_verified_name"]) == (
        "15550783881",
        "Lucky Shrub",
    )
    assert read_notice(*change("business_capability_update.json")).details == {
        "max_daily_conversation_per_phone": 10000,
        "max_phone_numbers_per_business": 20,
    }
    assert read_notice(*change("security.json")).details == {
        "requester": "12345678901234"
    }
    assert read_notice(*change("account_review_update.json")).stops_all is True


def test_an_unknown_field_or_a_bad_value_is_kept_as_information():
    assert read_notice("something_new", {"event": "X"}).severity == INFO
    assert read_notice("account_update", "not an object").event == ""
    bad = read_notice(
        "account_update",
        {
            "event": "ACCOUNT_RESTRICTION",
            "restriction_info": [
                {
                    "restriction_type": "RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
                    "expiration": "soon",
                },
                "junk",
            ],
        },
    )
    assert [(r.covers, r.expires_at) for r in bad.restrictions] == [
        ("customer_initiated", None)
    ]
