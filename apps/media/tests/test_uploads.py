"""Agents' uploads: the type from the content, Meta's table of types and sizes."""

import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.media import detect, services
from apps.media.models import Media
from apps.media.tests.conftest import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db


def detected(data: bytes, name: str = "") -> detect.Detected:
    return detect.detect(io.BytesIO(data), name)


def webp(animated: bool) -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 255, 0))]
    if animated:
        frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    else:
        frames[0].save(out, format="WEBP")
    return out.getvalue()


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (jpeg_bytes(), "", ("image/jpeg", False)),
        (png_bytes(), "", ("image/png", False)),
        (webp(False), "", ("image/webp", False)),
        (webp(True), "", ("image/webp", True)),
        (b"\0\0\0\x18ftypmp42\0\0\0\0isommp42", "", ("video/mp4", False)),
        (b"\0\0\0\x18ftyp3gp4\0\0\0\0", "", ("video/3gpp", False)),
        (b"\0\0\0\x18ftypM4A \0\0\0\0", "", ("audio/mp4", False)),
        (b"OggS\0\x02" + b"\0" * 22 + b"OpusHead\x01\x02", "", ("audio/ogg", False)),
        (b"OggS\0\x02" + b"\0" * 22 + b"\x01vorbis", "", (None, False)),
        (b"#!AMR\n\x3c", "", ("audio/amr", False)),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", "", ("audio/aac", False)),
        (b"ID3\x04\0\0\0\0\0\0", "", ("audio/mpeg", False)),
        (b"\xff\xfb\x90\x64\0\0", "", ("audio/mpeg", False)),
        (b"%PDF-1.7\n", "", ("application/pdf", False)),
        (docx(), "", (detect.DOCX, False)),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 32, "sheet.xls", (detect.XLS, False)),
        ("Olá, tudo bem?\n".encode(), "", ("text/plain", False)),
        (b"MZ\x90\0\x03\0\0\0", "tool.exe", (None, False)),
    ],
)
def test_detect_reads_the_content(data, name, expected):
    result = detected(data, name)
    assert (result.mime_type, result.animated) == expected


def test_upload_stores_an_image_with_a_thumbnail():
    admin = AdminFactory()
    body = png_bytes()

    media = services.media_upload_create(
        organization=admin.organization, uploaded_file=SimpleUploadedFile("Photo.PNG", body), user=admin
    )

    media = Media.objects.get(pk=media.pk)
    assert (media.kind, media.mime_type, media.size, media.state, media.message_id, media.uploaded_by_id) == (
        "image", "image/png", len(body), "stored", None, admin.pk
    )
    assert media.file.name == f"media/{admin.organization_id}/uploads/image.png"
    with media.file.open("rb") as stored:
        assert stored.read() == body
    assert media.thumbnail.name == f"media/{admin.organization_id}/uploads/thumb-{media.pk}.jpg"


def test_upload_keeps_a_documents_name():
    admin = AdminFactory()
    media = services.media_upload_create(
        organization=admin.organization, uploaded_file=SimpleUploadedFile("Q3 report.pdf", b"%PDF-1.7\n"), user=admin
    )
    assert (media.kind, media.mime_type, media.filename) == ("document", "application/pdf", "Q3 report.pdf")


def _refused(admin, upload, kind, message):
    with pytest.raises(ValidationError) as caught:
        services.media_upload_create(organization=admin.organization, uploaded_file=upload, kind=kind, user=admin)
    assert caught.value.messages == [message]
    assert Media.objects.count() == 0


def test_a_jpg_name_with_pdf_content_is_refused_as_an_image(settings):
    admin = AdminFactory()
    _refused(
        admin, SimpleUploadedFile("photo.jpg", b"%PDF-1.7\n"), "image",
        "This file is application/pdf; WhatsApp accepts JPG, PNG as image.",
    )
    assert not (settings.MEDIA_ROOT / "media").exists()


def test_an_oversize_image_names_the_limit():
    admin = AdminFactory()
    body = jpeg_bytes() + b"\0" * (5 * 1024 * 1024)
    _refused(
        admin, SimpleUploadedFile("big.jpg", body), None,
        "The file is 5.0\xa0MB; the limit for image is 5.0\xa0MB.",
    )


def test_an_animated_sticker_has_the_larger_limit_and_a_static_one_the_smaller():
    admin = AdminFactory()
    animated = webp(True) + b"\0" * (200 * 1024)
    media = services.media_upload_create(
        organization=admin.organization, uploaded_file=SimpleUploadedFile("s.webp", animated), user=admin
    )
    assert (media.kind, media.animated) == ("sticker", True)
    Media.objects.all().delete()
    _refused(
        admin, SimpleUploadedFile("s.webp", webp(False) + b"\0" * (200 * 1024)), None,
        "The file is 200.1\xa0KB; the limit for sticker is 100.0\xa0KB.",
    )


def test_ogg_that_is_not_opus_is_refused():
    admin = AdminFactory()
    _refused(
        admin, SimpleUploadedFile("a.ogg", b"OggS\0\x02" + b"\0" * 22 + b"\x01vorbis"), "audio",
        "This file is Ogg audio that is not Opus; WhatsApp accepts AAC, AMR, M4A, MP3, OGG as audio.",
    )


def test_an_upload_for_another_organisation_is_refused():
    admin, outsider = AdminFactory(), AdminFactory()
    with pytest.raises(PermissionDenied):
        services.media_upload_create(
            organization=admin.organization, uploaded_file=SimpleUploadedFile("a.png", png_bytes()), user=outsider
        )
    assert Media.objects.count() == 0


def test_api_upload_answers_the_media_id(client):
    agent = UserFactory()
    client.force_login(agent)

    response = client.post("/api/v1/media/", {"file": SimpleUploadedFile("note.txt", b"hello there\n")})

    assert response.status_code == 201
    media = Media.objects.get()
    assert response.json()["id"] == media.pk
    assert (response.json()["kind"], response.json()["mime_type"], response.json()["url"]) == (
        "document", "text/plain", f"/media/m/{media.pk}/"
    )


def test_api_upload_refuses_a_wrong_type_with_a_clear_error(client):
    client.force_login(UserFactory())
    response = client.post("/api/v1/media/", {"file": SimpleUploadedFile("x.png", b"%PDF-1.4"), "kind": "image"})
    assert response.status_code == 400
    assert response.json() == {"file": ["This file is application/pdf; WhatsApp accepts JPG, PNG as image."]}
    assert Media.objects.count() == 0


def test_api_upload_needs_a_login(client):
    response = client.post("/api/v1/media/", {"file": SimpleUploadedFile("x.png", png_bytes())})
    assert response.status_code in (401, 403)
    assert Media.objects.count() == 0
