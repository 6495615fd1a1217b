"""No parameter makes a 500. Every URL of the inbox, the reports and the REST API
(/api/v1/) is called with each parameter it reads (found by recording what the view
asks of the query string and the form or JSON body) set in turn to a value the
database cannot take or the view cannot parse: NUL, a lone surrogate, words where ids
go, numbers past bigint, negative and huge limits and offsets, impossible dates,
very long text; and each id of the URL past bigint. Each answer is a refusal or a
success, never a 500 (PostgreSQL refuses NUL in text and integers past 2^63).
(test_params.py checks that refusals change nothing.)"""

from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager

import pytest
from django.db import transaction
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.conversations.tests.factories import NoteFactory
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import Message

pytestmark = pytest.mark.django_db

PREFIXES = ("inbox/", "api/v1/", "reports/")
BIG = str(2**64)
BAD_VALUES = [
    "a\x00b", "x\udfffy", "abc", "-1", "²", BIG, "9" * 60, "9999-12-31T23:59:59+14:00", "x" * 5000,
]
# Parameters common to list endpoints that a view may read only through a paginator.
ALWAYS = ("limit", "offset", "page", "page_size", "cursor", "q", "after", "before")


def routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    return sorted({route for route in walk(get_resolver().url_patterns) if route.startswith(PREFIXES)})


class Recorder:
    keys: set[str] | None = None


@contextmanager
def recording():
    """Collect the keys a view reads from request.GET, request.POST or DRF's request.data."""
    Recorder.keys = set()
    originals = {name: getattr(QueryDict, name) for name in ("get", "getlist", "__getitem__", "__contains__")}

    def wrap(name):
        original = originals[name]

        def recorded(self, key, *args, **kwargs):
            if Recorder.keys is not None and isinstance(key, str):
                Recorder.keys.add(key)
            return original(self, key, *args, **kwargs)

        return recorded

    for name in originals:
        setattr(QueryDict, name, wrap(name))
    try:
        yield Recorder.keys
    finally:
        for name, original in originals.items():
            setattr(QueryDict, name, original)
        Recorder.keys = None


@pytest.fixture
def world():
    world = build_world()
    world.extra["message"] = Message.objects.filter(conversation=world.mine).first()
    world.extra["note"] = NoteFactory(conversation=world.mine)
    world.extra["template"] = MessageTemplateFactory(organization=world.org, waba_id=world.number.waba_id)
    return world


def url_for(route: str, world, **override) -> str:
    values = {
        "pk": world.mine.pk, "message_id": world.extra["message"].pk, "note_id": world.extra["note"].pk,
        "template_id": world.extra["template"].pk, "media_id": 1, "report": "summary", "name": "summary",
        "token": "x",
    }
    values.update(override)

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(values.get(match.group(1), 1)), route)


def call(client, method, url, key=None, value=None, *, as_json=False):
    """One request in a savepoint rolled back after it: what one request wrote, or a
    failed statement that aborted PostgreSQL's transaction, does not reach the next."""
    savepoint = transaction.savepoint()
    try:
        return _call(client, method, url, key, value, as_json=as_json)
    finally:
        transaction.savepoint_rollback(savepoint)


def _call(client, method, url, key, value, *, as_json):
    data = {} if key is None else {key: value}
    if method == "get":
        if value is not None and re.search(r"[\ud800-\udfff]", value):
            return None  # a query string cannot carry a lone surrogate: percent-decoding replaces it
        return client.get(url, data)
    if as_json:
        return getattr(client, method)(url, json.dumps(data), content_type="application/json")
    if value is not None and re.search(r"[\ud800-\udfff]", value):
        return None  # nor can a form body
    return getattr(client, method)(url, data)


@pytest.fixture
def quiet():
    """Refusals log a warning each: thousands of them are noise here."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("route", routes())
def test_no_parameter_of_any_view_makes_a_500(world, quiet, route):
    client = Client(raise_request_exception=False)
    client.force_login(world.admin)
    failures = []
    api = route.startswith("api/")
    url = url_for(route, world)
    for method in ("get", "post", "patch") if api else ("get", "post"):
        # What the view reads, found from a form request (a serializer reads the same
        # fields from a JSON body).
        with recording() as keys:
            call(client, method, url)
        keys = sorted(keys | (set(ALWAYS) if api and method == "get" else set()))
        for as_json in (False, True) if api and method != "get" else (False,):
            for key in keys:
                for value in BAD_VALUES:
                    response = call(client, method, url, key, value, as_json=as_json)
                    if response is not None and response.status_code == 500:
                        failures.append((method, "json" if as_json else "form", key, value[:20]))
    for name in re.findall(r"<int:(\w+)>", route):
        for big in (2**63, 2**64):
            big_url = url_for(route, world, **{name: big})
            for method in ("get", "post"):
                if call(client, method, big_url).status_code == 500:
                    failures.append((method, "path", name, big))
    assert failures == []
