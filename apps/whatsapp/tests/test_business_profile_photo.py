"""The business profile's photo from Django admin, against the simulator over HTTP: the
file checked against Meta's limits (JPEG or PNG, at most 5 MB, at least 192 x 192),
uploaded through the Resumable Upload API, its handle sent as profile_picture_handle,
and the page showing the photo Meta then answers."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.accounts.tests.factories import AdminFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.providers.meta import profile as meta
from apps.providers.meta.client import client_for
from apps.simulator.models import SimulatedRequest, SimulatedUpload
from apps.simulator.testing import simulator  # noqa: F401
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"about": "We answer fast", "vertical": "RETAIL", "prompts": "", "commands": ""}


def image(kind: str, width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 140, 90)).save(out, kind)
    return out.getvalue()


@pytest.fixture
def number(simulator):  # noqa: F811
    return WhatsAppNumberFactory()


def admin_of(number) -> Client:
    client = Client()
    client.force_login(AdminFactory(organization=number.organization, is_staff=True))
    return client


def url(number) -> str:
    return f"/admin/whatsapp/whatsappnumber/{number.pk}/profile/"


def save(number, content: bytes, name: str = "logo.png"):
    return admin_of(number).post(url(number), {**FORM, "photo": SimpleUploadedFile(name, content)})


def test_a_photo_is_uploaded_its_handle_sent_and_the_page_shows_it(number):
    photo = image("PNG", 640, 640)
    response = save(number, photo)
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = SimulatedUpload.objects.get()
    assert (bytes(upload.content), upload.file_type, upload.file_name) == (photo, "image/png", "logo.png")
    sent = SimulatedRequest.objects.get(method="POST", path__endswith="/whatsapp_business_profile").body
    assert sent["profile_picture_handle"] == upload.handle and sent["about"] == "We answer fast"
    shown = meta.profile_get(client_for(number)).profile_picture_url
    assert shown.endswith(f"/simulator/profile-picture/{upload.pk}/")
    page = admin_of(number).get(url(number)).content.decode()
    assert f'src="{shown}"' in page
    served = Client().get(f"/simulator/profile-picture/{upload.pk}/")  # public, as Meta's CDN
    assert served["Content-Type"] == "image/png" and served.content == photo


def test_saving_without_a_photo_keeps_the_current_one(number):
    assert save(number, image("JPEG", 300, 300), "me.jpg").status_code == 302
    first = meta.profile_get(client_for(number)).profile_picture_url
    assert admin_of(number).post(url(number), FORM).status_code == 302
    assert meta.profile_get(client_for(number)).profile_picture_url == first
    assert SimulatedUpload.objects.count() == 1
    body = SimulatedRequest.objects.filter(method="POST", path__endswith="/whatsapp_business_profile").order_by("id").last().body
    assert "profile_picture_handle" not in body


@pytest.mark.parametrize(("content", "error"), [
    (image("GIF", 300, 300), "must be a JPEG or PNG"),
    (b"not an image at all", "must be a JPEG or PNG"),
    (image("PNG", 191, 400), "191 x 400 pixels"),
    (b"\xff" * (5 * 1024 * 1024 + 1), "at most 5 MB"),
])
def test_a_photo_meta_would_refuse_is_refused_before_any_call(number, content, error):
    response = save(number, content)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SimulatedRequest.objects.filter(method="POST").exists()
    assert not SimulatedUpload.objects.exists()


def test_the_simulator_refuses_a_handle_it_did_not_give(number):
    from apps.providers.meta.client import GraphAPIError

    with pytest.raises(GraphAPIError) as refused:
        meta.profile_set(client_for(number), meta.BusinessProfile(about="Hi"), picture_handle="4::aW1hZ2U=:nope")
    assert refused.value.code == 100


def test_picture_type_reads_the_image_not_its_name():
    assert meta.picture_type(image("JPEG", 192, 192)) == "image/jpeg"
    assert meta.picture_type(image("PNG", 1000, 800)) == "image/png"
    with pytest.raises(meta.PictureRefused):
        meta.picture_type(b"")
