"""A media-header template from an uploaded file: Meta's Resumable Upload API (a
session, the bytes from an offset, the handle), end to end against the simulator,
from Django admin and from the REST API; an interrupted upload resumes from the
offset Meta holds; only a session id of Meta's shape is ever called."""

import json
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler as PlainHandler

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.tests.factories import AdminFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.accounts.tokens import token_issue
from apps.message_templates.models import MessageTemplate
from apps.providers.meta.client import GraphAPIError, client_for
from apps.providers.meta.destinations import Refused, upload_session_url
from apps.providers.meta.uploads import upload_resume, upload_start
from apps.simulator.models import SimulatedRequest, SimulatedTemplate, SimulatedUpload
from apps.simulator.testing import inject, simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

META = json.loads((Path(__file__).parent / "fixtures" / "resumable_upload.json").read_text())
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def admin(simulator, settings, monkeypatch):  # noqa: F811
    settings.META_APP_ID = "123456789012345"
    # Meta reads the header `file_offset`; Django's development server (the test's
    # live server) drops header names with an underscore, so it keeps them here.
    monkeypatch.setattr(WSGIRequestHandler, "get_environ", PlainHandler.get_environ)
    return AdminFactory(is_staff=True)


@pytest.fixture
def number(admin):
    return WhatsAppNumberFactory(organization=admin.organization)


def test_meta_s_session_ids_are_called_and_nothing_else(settings):
    settings.GRAPH_API_BASE = "https://graph.facebook.com"
    url = upload_session_url(META["session"]["id"])
    assert url.startswith(f"https://graph.facebook.com/{settings.GRAPH_API_VERSION}/upload:MTphdHRhY2")
    assert url.endswith("?sig=ARZqkGCA_uQMxC8nHKI")
    for bad in ("upload:../123/messages", "upload:a/b", "upload:abc?sig=x&access_token=y", "123/messages",
                "upload:abc#x", "upload:%2e%2e", "upload:", "https://evil.example/upload:abc", None, 12):
        with pytest.raises(Refused):
            upload_session_url(bad)


def test_admin_creates_an_image_header_template_from_a_file(admin, number):
    client = Client()
    client.force_login(admin)
    form = client.get("/admin/message_templates/messagetemplate/add/").content.decode()
    assert 'enctype="multipart/form-data"' in form and 'name="header_file"' in form
    response = client.post("/admin/message_templates/messagetemplate/add/", {
        "number": number.pk, "name": "new_arrivals", "language": "en_US", "category": "UTILITY",
        "parameter_format": "POSITIONAL", "header_format": "IMAGE", "body_text": "Your order has shipped.",
        "header_file": SimpleUploadedFile("sample.png", PNG, content_type="image/png"),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = SimulatedUpload.objects.get()
    assert (bytes(upload.content), upload.file_type, upload.app_id) == (PNG, "image/png", "123456789012345")
    sent = SimulatedTemplate.objects.get(name="new_arrivals")
    assert sent.components[0] == {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [upload.handle]}}
    stored = MessageTemplate.objects.get(name="new_arrivals")
    assert stored.components[0]["example"]["header_handle"] == [upload.handle]


def test_admin_says_why_a_file_does_not_fit_the_header(admin, number):
    client = Client()
    client.force_login(admin)
    html = client.post("/admin/message_templates/messagetemplate/add/", {
        "number": number.pk, "name": "new_arrivals", "language": "en_US", "category": "UTILITY",
        "parameter_format": "POSITIONAL", "header_format": "VIDEO", "body_text": "Your order has shipped.",
        "header_file": SimpleUploadedFile("sample.mp4", PNG, content_type="video/mp4"),
    }).content.decode()
    assert "A video header takes video/mp4, not image/png." in html
    assert not SimulatedUpload.objects.exists() and not SimulatedTemplate.objects.exists()


def test_the_api_uploads_a_sample_and_its_handle_creates_the_template(admin, number):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=admin, name='t')[1]}")
    answer = api.post("/api/v1/templates/header-sample/", {
        "number": number.pk, "header_format": "DOCUMENT",
        "file": SimpleUploadedFile("terms.pdf", b"%PDF-1.4\n" + b"x" * 500, content_type="application/pdf"),
    }, format="multipart")
    assert answer.status_code == 201, answer.content
    handle = answer.json()["header_handle"]
    assert handle == SimulatedUpload.objects.get().handle
    created = api.post("/api/v1/templates/", {
        "number": number.pk, "name": "terms_update", "language": "en_US", "category": "UTILITY",
        "components": [{"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [handle]}},
                       {"type": "BODY", "text": "Our terms changed."}],
    }, format="json")
    assert created.status_code == 201, created.content
    assert SimulatedTemplate.objects.get(name="terms_update").components[0]["example"]["header_handle"] == [handle]
    refused = api.post("/api/v1/templates/header-sample/", {
        "number": number.pk, "header_format": "IMAGE",
        "file": SimpleUploadedFile("notes.txt", b"just text", content_type="image/png"),
    }, format="multipart")
    assert (refused.status_code, refused.json()["field"]) == (400, "header.example")


def test_an_interrupted_upload_resumes_from_the_offset_meta_holds(admin, number):
    client = client_for(number)
    session = upload_start(client, "123456789012345", file_length=len(PNG), file_type="image/png",
                           file_name="sample.png")
    assert session.startswith("upload:") and "?sig=" in session
    # The connection broke after half of the file: Meta holds that half.
    half = len(PNG) // 2
    partial = client.session_call("POST", session, body=PNG[:half], headers={"file_offset": "0"})
    assert partial["file_offset"] == half
    assert client.session_call("GET", session)["file_offset"] == half
    with pytest.raises(GraphAPIError) as wrong:
        client.session_call("POST", session, body=PNG, headers={"file_offset": "0"})
    assert wrong.value.code == 100 and "resume from" in wrong.value.message + wrong.value.details
    handle = upload_resume(client, session, PNG)
    upload = SimulatedUpload.objects.get()
    assert (handle, bytes(upload.content)) == (upload.handle, PNG)


def test_the_simulator_refuses_as_meta_does(admin, number):
    client = client_for(number)
    with pytest.raises(GraphAPIError) as bad_type:
        upload_start(client, "123456789012345", file_length=10, file_type="text/plain")
    assert bad_type.value.code == 100
    with pytest.raises(GraphAPIError) as no_length:
        client.call("POST", "123456789012345", "uploads", params={"file_type": "image/png"})
    assert no_length.value.code == 131008
    session = upload_start(client, "123456789012345", file_length=10, file_type="image/png")
    forged = session.split("?sig=")[0] + "?sig=forged"
    with pytest.raises(GraphAPIError) as unknown:
        client.session_call("GET", forged)
    assert (unknown.value.code, unknown.value.subcode) == (100, 33)
    with pytest.raises(GraphAPIError) as too_long:
        client.session_call("POST", session, body=b"x" * 11, headers={"file_offset": "0"})
    assert too_long.value.code == 100


def test_a_failed_call_resumes_from_the_offset_meta_reports(admin, number):
    client = client_for(number)
    session = upload_start(client, "123456789012345", file_length=len(PNG), file_type="image/png")
    inject(fail_code=2, fail_count=1)  # Meta's next answer is a 500: the upload is retried
    handle = upload_resume(client, session, PNG, offset=0)
    assert (handle, bytes(SimulatedUpload.objects.get().content)) == (SimulatedUpload.objects.get().handle, PNG)
    calls = list(SimulatedRequest.objects.filter(path__contains="/upload:").order_by("pk")
                 .values_list("method", "status_code"))
    assert calls == [("POST", 500), ("GET", 200), ("POST", 200)]


def test_another_organisations_number_is_not_found_and_nothing_reaches_meta(admin, number):
    outsider = AdminFactory(is_staff=True)  # an admin of another organisation
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=outsider, name='t')[1]}")
    answer = api.post("/api/v1/templates/header-sample/", {
        "number": number.pk, "header_format": "DOCUMENT",
        "file": SimpleUploadedFile("terms.pdf", b"%PDF-1.4\n" + b"x" * 500, content_type="application/pdf"),
    }, format="multipart")
    assert (answer.status_code, answer.json()["code"]) == (400, "not_found")
    assert not SimulatedUpload.objects.exists()
    assert not SimulatedRequest.objects.filter(path__contains="uploads").exists()
