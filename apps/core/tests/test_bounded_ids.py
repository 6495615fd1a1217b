"""Ids taken from a REST body are whole numbers from 1 to the largest bigint (audit
16): PostgreSQL refuses one past it. Each refusal names the field and changes
nothing; and every serializer of the project is checked, so that a new integer
field without bounds fails here."""

from __future__ import annotations

import json

import pytest
from django.urls import get_resolver
from rest_framework import relations, serializers

from apps.accounts.models import User
from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.core import params
from apps.messaging.models import Message

HUGE = [10**30, 2**63, 0, -1]


@pytest.fixture
def world(db):
    return build_world()


def _teams(user):
    user = User.objects.get(pk=user.pk)
    return user.role, sorted(user.teams.values_list("pk", flat=True))


@pytest.mark.parametrize("value", HUGE)
def test_a_users_team_ids_past_bigint_are_refused(world, value):
    before = _teams(world.agent)
    response = api_as(world.admin).patch(f"/api/v1/users/{world.agent.pk}/",
                                         {"role": "supervisor", "team_ids": [world.team.pk, value]}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["team_ids"]
    assert _teams(world.agent) == before


def test_a_users_team_ids_are_a_bounded_list(world):
    before = _teams(world.agent)
    response = api_as(world.admin).patch(f"/api/v1/users/{world.agent.pk}/",
                                         {"team_ids": [world.team.pk] * 1001}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["team_ids"])
    assert _teams(world.agent) == before


@pytest.mark.parametrize("value", HUGE)
def test_a_reply_to_past_bigint_is_refused_and_nothing_is_sent(world, value):
    before = Message.objects.count()
    payload = {"number": str(world.number.pk), "to": world.mine.contact.phone, "type": "text",
               "text": {"body": "hi"}, "reply_to": value}
    response = api_as(world.admin).post("/api/v1/messages/", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "reply_to"
    assert Message.objects.count() == before


def _serializers():
    get_resolver().url_patterns  # imports every view module, and with them their serializers

    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return sorted({cls for cls in walk(serializers.BaseSerializer) if cls.__module__.startswith("apps.")},
                  key=lambda cls: (cls.__module__, cls.__qualname__))


def _unbounded(fields, path=""):
    for name, field in fields.items():
        where = f"{path}{name}"
        if field.read_only:
            continue
        if isinstance(field, serializers.IntegerField):
            low, high = field.min_value, field.max_value
            if low is None or high is None or low < -params.BIGINT_MAX - 1 or high > params.BIGINT_MAX:
                yield where
        elif isinstance(field, (serializers.ListField, serializers.DictField)):
            yield from _unbounded({"[]": field.child}, where)
        elif isinstance(field, (relations.RelatedField, relations.ManyRelatedField)):
            yield where  # DRF looks the pk up unchecked: take an id field and a scoped selector
        elif isinstance(field, serializers.BaseSerializer) and hasattr(field, "fields"):
            yield from _unbounded(field.fields, where + ".")


def test_every_integer_a_serializer_takes_is_bounded(db):
    found = _serializers()
    assert len(found) > 20
    unbounded = [f"{cls.__module__}.{cls.__qualname__}.{where}" for cls in found for where in _unbounded(cls().fields)]
    assert unbounded == []
