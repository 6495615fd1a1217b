"""A form or multipart body holding NUL (or a lone surrogate) is a 400 naming the
field whatever the method (audit 16): the guard (apps/core/middleware.py) reads the
body of PATCH, PUT and DELETE too, not only POST's, and the REST API's form and
multipart parsers (apps/core/api.py) refuse it as its JSON parser does, for a body
the guard lets through (one past DATA_UPLOAD_MAX_MEMORY_SIZE, or a view without the
guard). PostgreSQL cannot store NUL, so run these there too: before, a PATCH of a
contact's attributes as a form was a 500 there."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils.datastructures import MultiValueDict
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from rest_framework.response import Response

from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.conversations.models import AuditLogEntry, Contact
from apps.core import params

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
GUARD = "apps.core.middleware.RequestParameterGuard"
REPLACED = "attributes.co\N{REPLACEMENT CHARACTER}lor"


@pytest.fixture
def world(db):
    return build_world()


def _body(encoding: str, data: dict, files: dict | None = None) -> tuple[bytes | str, str]:
    if encoding == "form":
        return urlencode(data), FORM
    from django.core.files.uploadedfile import SimpleUploadedFile

    parts = dict(data)
    for name, (filename, content) in (files or {}).items():
        parts[name] = SimpleUploadedFile(filename, content, content_type="text/plain")
    return encode_multipart(BOUNDARY, parts), MULTIPART_CONTENT


def _state(contact):
    contact = Contact.objects.get(pk=contact.pk)
    return contact.name, contact.attributes, AuditLogEntry.objects.count()


def _named(response) -> str:
    """The refusal's message, from the guard (text) or the REST API (JSON detail)."""
    if response["Content-Type"].startswith("application/json"):
        return response.json()["detail"]
    return response.content.decode()


CASES = [
    ({"name": "Alice", "attributes.color": "a\x00b"}, "attributes.color"),
    ({"name": "Alice", "attributes.co\x00lor": "blue"}, REPLACED),
    ({"name": "x\x00"}, "name"),
]


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest.mark.parametrize("data, field", CASES)
def test_nul_in_any_methods_form_body_is_refused_naming_the_field(world, method, encoding, data, field):
    contact = world.mine.contact
    before = _state(contact)
    body, content_type = _body(encoding, data)
    response = getattr(api_as(world.supervisor), method)(f"/api/v1/contacts/{contact.pk}/", body,
                                                          content_type=content_type)
    assert response.status_code == 400
    assert _named(response) == f"Invalid value for “{field}”."
    assert _state(contact) == before


@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest.mark.parametrize("data, field", CASES)
def test_the_apis_form_parsers_refuse_what_the_guard_did_not_see(world, settings, encoding, data, field):
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != GUARD]
    contact = world.mine.contact
    before = _state(contact)
    body, content_type = _body(encoding, data)
    response = api_as(world.supervisor).patch(f"/api/v1/contacts/{contact.pk}/", body, content_type=content_type)
    assert (response.status_code, response.json()) == (400, {"detail": f"Invalid value for “{field}”."})
    assert _state(contact) == before


def test_a_multipart_body_past_the_in_memory_limit_is_refused_by_the_parser(world, settings):
    """The guard reads a PATCH body into memory only up to DATA_UPLOAD_MAX_MEMORY_SIZE
    (Django's own limit for request.body); past it, the parser refuses."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    contact = world.mine.contact
    before = _state(contact)
    body, content_type = _body("multipart", {"attributes.color": "a\x00b"}, {"upload": ("a.txt", b"x" * 5000)})
    response = api_as(world.supervisor).patch(f"/api/v1/contacts/{contact.pk}/", body, content_type=content_type)
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid value for “attributes.color”."})
    assert _state(contact) == before


@pytest.mark.parametrize("guarded", [True, False])
def test_nul_in_an_uploaded_files_field_name_is_refused(world, settings, guarded):
    """(Django drops NUL from an uploaded file's own name.)"""
    if not guarded:
        settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != GUARD]
    contact = world.mine.contact
    before = _state(contact)
    body, content_type = _body("multipart", {"name": "Alice"}, {"up\x00load": ("a.txt", b"hello")})
    response = api_as(world.supervisor).patch(f"/api/v1/contacts/{contact.pk}/", body, content_type=content_type)
    assert response.status_code == 400
    assert _named(response) == "Invalid value for “up\N{REPLACEMENT CHARACTER}load”."
    assert _state(contact) == before


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_a_clean_patch_form_body_still_reaches_the_view(world, encoding):
    contact = world.mine.contact
    body, content_type = _body(encoding, {"name": "Alice Renamed", "attributes.color": "blue"})
    response = api_as(world.supervisor).patch(f"/api/v1/contacts/{contact.pk}/", body, content_type=content_type)
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.name, contact.attributes) == ("Alice Renamed", {"color": "blue"})


class _Echo(APIView):
    """Any REST view that takes a PUT: it reads request.data with the default parsers."""

    authentication_classes: list = []
    permission_classes: list = []

    def put(self, request):
        return Response({key: request.data.getlist(key) for key in request.data})


@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest.mark.parametrize("data, field", CASES)
def test_a_put_view_never_receives_nul_from_a_form_body(encoding, data, field):
    body, content_type = _body(encoding, data)
    request = APIRequestFactory().put("/echo/", body, content_type=content_type)
    response = _Echo.as_view()(request)
    assert (response.status_code, response.data) == (400, {"detail": f"Invalid value for “{field}”."})


def test_first_unstorable_field_names_the_field_of_a_form():
    assert params.first_unstorable_field(QueryDict("a=1&b=2")) is None
    assert params.first_unstorable_field(QueryDict("a=1&b=x%00y")) == "b"
    assert params.first_unstorable_field(QueryDict("a=1&b=ok&b=x%00y")) == "b"
    assert params.first_unstorable_field(QueryDict("a%00b=1")) == "a\N{REPLACEMENT CHARACTER}b"
    lone = QueryDict(mutable=True)
    lone.setlist("k", ["ok", "x\udfffy"])
    assert params.first_unstorable_field(lone) == "k"

    class Uploaded:
        name = "x\ud800.txt"

    assert params.first_unstorable_field(QueryDict(), MultiValueDict({"file": [Uploaded()]})) == "file"
