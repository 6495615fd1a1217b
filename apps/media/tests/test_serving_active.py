"""A customer's file that a browser would run (SVG, HTML, XML, JavaScript...) is
always a download with a passive content type, never shown inline: on local
storage and in S3 presigned links (audit, issue 16, point 13)."""

import pytest
import requests
from django.core.files.base import ContentFile

from apps.accounts.tests.factories import AdminFactory
from apps.media import selectors
from apps.media.tests.conftest import png_bytes
from apps.media.tests.factories import StoredMediaFactory

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'

ACTIVE = [
    ("image/svg+xml", "drawing.svg"),
    ("IMAGE/SVG+XML; charset=utf-8", "drawing.svg"),
    ("text/html", "page.html"),
    ("text/html; charset=utf-8", "page.htm"),
    ("application/xhtml+xml", "page.xhtml"),
    ("text/xml", "data.xml"),
    ("application/xml", "data.xml"),
    ("application/javascript", "app.js"),
    ("text/javascript", "app.js"),
    ("application/x-shockwave-flash", "movie.swf"),
    ("multipart/x-mixed-replace", "stream"),
    ("image/svg+xml\r\nX-Injected: 1", "x.svg"),
    ("", "drawing.svg"),
    ("image/png", "drawing.svg"),  # the name does not make it active: served as the type says
]
OCTET = "application/octet-stream"


def expected(mime_type: str) -> tuple[str, bool]:
    """(content type, inline) the file must be served with."""
    return ("image/png", True) if mime_type == "image/png" else (OCTET, False)


def stored(mime_type: str, filename: str, body: bytes = SVG):
    media = StoredMediaFactory(mime_type=mime_type, filename=filename, kind="document",
                               file=ContentFile(body, name=filename))
    admin = AdminFactory(organization=media.organization)
    return media, admin


@pytest.mark.parametrize("mime_type, filename", ACTIVE)
def test_local_storage_serves_active_content_as_a_download(client, mime_type, filename):
    media, admin = stored(mime_type, filename)
    client.force_login(admin)
    link = client.get(f"/media/m/{media.pk}/")["Location"]
    served = client.get(link)
    content_type, inline = expected(mime_type)
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert served["Content-Disposition"] == f'{"inline" if inline else "attachment"}; filename="{filename}"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("mime_type, filename", ACTIVE)
def test_s3_presigned_links_serve_active_content_as_a_download(s3_storage, mime_type, filename):
    media, admin = stored(mime_type, filename)
    url = selectors.media_url_for(media=media, user=admin)
    fetched = requests.get(url, timeout=10)
    content_type, inline = expected(mime_type)
    assert (fetched.status_code, fetched.content) == (200, SVG)
    assert fetched.headers["Content-Type"] == content_type
    assert fetched.headers["Content-Disposition"] == (
        f'{"inline" if inline else "attachment"}; filename="{filename}"')


@pytest.mark.parametrize("mime_type, inline", [
    ("image/jpeg", True), ("image/png", True), ("image/webp", True), ("video/mp4", True), ("audio/ogg", True),
    ("audio/ogg; codecs=opus", True), ("application/pdf", False), ("text/plain", False),
])
def test_passive_types_keep_their_type(mime_type, inline):
    media = StoredMediaFactory.build(mime_type=mime_type, filename="f")
    assert selectors.content_type(media, "file") == mime_type.split(";")[0]
    assert selectors.is_inline(media, "file") is inline


def test_a_filename_cannot_break_the_header(s3_storage, client):
    media, admin = stored("application/pdf", 'in"voice\r\nX-Evil: 1;.pdf', b"%PDF-1.4 abc")
    url = selectors.media_url_for(media=media, user=admin)
    fetched = requests.get(url, timeout=10)
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="in\\"voiceX-Evil: 1;.pdf"'
    assert "X-Evil" not in fetched.headers


def test_the_thumbnail_is_still_an_inline_jpeg(s3_storage):
    media, admin = stored("image/svg+xml", "drawing.svg")
    media.thumbnail.save("thumb.jpg", ContentFile(png_bytes()))
    fetched = requests.get(selectors.media_url_for(media=media, user=admin, thumbnail=True), timeout=10)
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["Content-Disposition"] == f'inline; filename="thumbnail-{media.pk}.jpg"'


@pytest.mark.parametrize("mime_type, filename, stored_as", [
    ("image/svg+xml", "drawing.svg", "drawing.bin"),
    ("text/html", "page.HTML", "page.bin"),
    ("application/pdf", "invoice.pdf", "invoice.pdf"),
    ("text/plain", "notes.txt", "notes.txt"),
])
def test_a_mirrored_active_file_is_stored_under_a_passive_name(fake_meta, s3_storage, mime_type, filename, stored_as):
    """The object itself is labelled passive too (S3 types an object by its name),
    for any link made without our response parameters."""
    from apps.media import services
    from apps.media.tests.factories import MediaFactory

    client, bucket = s3_storage
    media = MediaFactory(meta_media_id="123456789", mime_type=mime_type, filename=filename,
                         message__type="document")
    fake_meta.media("123456789", SVG, mime_type=mime_type)
    services.media_mirror(media_id=media.pk)
    media.refresh_from_db()
    assert media.state == "stored"
    assert media.file.name.rsplit("/", 1)[-1] == stored_as
    head = client.head_object(Bucket=bucket, Key=media.file.name)
    assert head["ContentType"] == {"bin": OCTET, "pdf": "application/pdf", "txt": "text/plain"}[stored_as[-3:]]
