"""Request parameters are checked in one place (apps/core/params.py and the guards
built on it): each kind of bad value is a clear 400 (or 422 in the inbox's panels)
that names the parameter and changes nothing."""

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.conversations.models import AuditLogEntry, Note
from apps.conversations.tests.factories import ContactFactory
from apps.core import params
from apps.core.middleware import RequestParameterGuard
from apps.messaging.models import Message

BIG = str(2**64)


# --- The helpers ----------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("1", 1), (" 42 ", 42), (str(2**63 - 1), 2**63 - 1), ("", None), (None, None), (7, 7),
])
def test_positive_id_accepts_ids(value, expected):
    assert params.positive_id(value, field="number") == expected


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "1e3", "²", "١٢", "+1", str(2**63), BIG, "9" * 60, "a\x00"])
def test_positive_id_refuses_anything_else(value):
    with pytest.raises(params.BadParameter) as refused:
        params.positive_id(value, field="number")
    assert refused.value.field == "number"
    assert refused.value.message == "Invalid value for “number”."


def test_text_refuses_nul_and_lone_surrogates_and_cuts_to_length():
    assert params.text("  naïve ✓ 😀", field="q", max_length=8) == "  naïve "
    assert params.text(None, field="q") == ""
    for bad in ("a\x00b", "\ud800", "x\udfff"):
        with pytest.raises(params.BadParameter):
            params.text(bad, field="q")


def test_first_unstorable_names_where_in_a_json_document():
    assert params.first_unstorable({"a": ["ok", {"b": "ok"}], "n": 1, "x": None}) is None
    assert params.first_unstorable({"a": ["ok", {"b": "x\x00"}]}) == "a[1].b"
    assert params.first_unstorable({"attributes": {"\ud800": 1}}) == "attributes"
    assert params.first_unstorable("\x00") == "body"


def test_the_guard_lets_providers_deliveries_through():
    guard = RequestParameterGuard(lambda request: "passed")
    factory = RequestFactory()
    assert guard(factory.post("/webhooks/meta/", {"x": "a\x00b"})) == "passed"
    assert guard(factory.get("/inbox/", {"q": "fine"})) == "passed"
    refused = guard(factory.get("/inbox/", {"q": "a\x00b"}))
    assert (refused.status_code, refused.content.decode()) == (400, "Invalid value for “q”.")


# --- At the doors ----------------------------------------------------------------------


@pytest.fixture
def world(db):
    return build_world()


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("query, field", [
    ({"q": "a\x00b"}, "q"), ({"number": "²"}, "number"), ({"number": BIG}, "number"), ({"label": "-1"}, "label"),
    ({"view": "a\x00"}, "view"),
])
def test_inbox_filters_refuse_with_the_field_named(world, query, field):
    for name in ("inbox:list", "inbox:rows"):
        response = browser(world.agent).get(reverse(name), query)
        assert (response.status_code, response.content.decode()) == (400, f"Invalid value for “{field}”.")


def test_a_note_with_nul_is_refused_and_nothing_is_stored(world):
    response = browser(world.agent).post(reverse("inbox:note_add", args=[world.mine.pk]), {"body": "hi\x00there"})
    assert (response.status_code, response.content.decode()) == (400, "Invalid value for “body”.")
    assert Note.objects.count() == 0
    assert not AuditLogEntry.objects.exists()


def test_a_reaction_to_no_message_id_is_refused_in_the_composer(world):
    before = Message.objects.count()
    for value in ("abc", BIG, "²"):
        response = browser(world.agent).post(reverse("inbox:react", args=[world.mine.pk]),
                                             {"message": value, "emoji": "👍"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 422
        assert "React to a message of this conversation that reached WhatsApp." in response.content.decode()
    assert Message.objects.count() == before


@pytest.mark.parametrize("value", [BIG, "9" * 60, "²", "-3"])
def test_a_label_or_team_that_is_no_id_is_refused_in_the_panel(world, value):
    response = browser(world.supervisor).post(reverse("inbox:label_toggle", args=[world.mine.pk]), {"label": value},
                                              HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Label: choose one of the list." in response.content.decode()
    assert world.mine.labels.count() == 0


@pytest.mark.parametrize("value", ["2025-02-30T10:00", "0001-01-01T00:00+14:00", "99999-01-01T00:00"])
def test_an_impossible_snooze_time_is_refused(world, value):
    response = browser(world.agent).post(reverse("inbox:status", args=[world.mine.pk]),
                                         {"status": "snoozed", "snoozed_until": value}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Snooze until: choose a date and time." in response.content.decode()
    world.mine.refresh_from_db()
    assert world.mine.status == "open"


def test_api_json_with_nul_or_a_lone_surrogate_is_refused_and_nothing_changes(world):
    contact = world.mine.contact
    client = api_as(world.supervisor)
    for body in ('{"attributes": {"k": "a\\u0000b"}}', '{"name": "x\\ud800"}', '{"attributes": {"\\udfff": 1}}'):
        response = client.patch(f"/api/v1/contacts/{contact.pk}/", body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("Invalid value for")
    refreshed = type(contact).objects.get(pk=contact.pk)
    assert (refreshed.name, refreshed.attributes) == (contact.name, contact.attributes)
    response = client.post(f"/api/v1/conversations/{world.mine.pk}/status/", json.dumps({"status": "\ud800"}),
                           content_type="application/json")
    assert response.status_code == 400
    world.mine.refresh_from_db()
    assert world.mine.status == "open"


def test_api_limits_are_capped_and_huge_offsets_refused(world):
    for _ in range(3):
        ContactFactory(organization=world.org)
    client = api_as(world.supervisor)
    page = client.get("/api/v1/contacts/", {"limit": "1" + "0" * 30})
    assert page.status_code == 200
    assert len(page.json()["results"]) == page.json()["count"]
    for offset in ("1" + "0" * 30, "abc", "-1"):
        refused = client.get("/api/v1/contacts/", {"offset": offset})
        assert (refused.status_code, list(refused.json())) == (400, ["offset"])
    assert client.get("/api/v1/contacts/", {"offset": "1000000000"}).json()["results"] == []


@pytest.mark.parametrize("query, status", [
    ({"number": "a\x00b"}, 400), ({"number": "²"}, 200), ({"number": BIG}, 200), ({}, 400),
    ({"number": "1", "conversation": BIG}, 400), ({"number": "1", "q": "x" * 201}, 400),
])
def test_template_list_checks_its_query(world, query, status):
    response = api_as(world.admin).get("/api/v1/templates/", query)
    assert response.status_code == status
    if status == 200:
        assert response.json()["results"] == []


@pytest.mark.parametrize("body, field", [
    ({"type": "reaction", "reaction": {"message": "abc", "emoji": "👍"}}, "reaction.message"),
    ({"type": "reaction", "reaction": {"message": [1], "emoji": "👍"}}, "reaction.message"),
    ({"type": "reaction", "reaction": {"message": 2**70, "emoji": "👍"}}, "reaction.message"),
    ({"type": "text", "text": {"body": "hi"}, "number": "²"}, "number"),
])
def test_the_messages_api_refuses_ids_that_are_no_ids_and_stores_nothing(world, body, field):
    before = Message.objects.count()
    payload = {"number": str(world.number.pk), "to": world.mine.contact.phone, **body}
    response = api_as(world.admin).post("/api/v1/messages/", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Message.objects.count() == before
