"""Mirroring customers' files: the task against a local stand-in for Meta's media hosts."""

import hashlib
import base64

import pytest
from PIL import Image

from apps.core.tasks import dispatch
from apps.media import tasks
from apps.media.models import Media
from apps.media.tests.conftest import jpeg_bytes
from apps.media.tests.factories import MediaFactory
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db(transaction=True)


def reload(media):
    return Media.objects.get(pk=media.pk)


def test_mirror_stores_the_file_with_its_thumbnail_and_announces_it(fake_meta, published):
    body = jpeg_bytes()
    media = MediaFactory(sha256=base64.b64encode(hashlib.sha256(body).digest()).decode())
    fake_meta.media(media.meta_media_id, body)

    dispatch(tasks.mirror_media, media.pk)

    media = reload(media)
    assert (media.state, media.size, media.kind, media.error) == ("stored", len(body), "image", "")
    assert media.file.name == f"media/{media.organization_id}/{media.message_id}/image-{media.pk}.jpg"
    with media.file.open("rb") as stored:
        assert stored.read() == body
    with media.thumbnail.open("rb") as thumb, Image.open(thumb) as image:
        assert (image.format, image.size) == ("JPEG", (320, 240))
    download_headers = [h for path, h in fake_meta.requests if path.startswith("/files/")][0]
    assert download_headers["Authorization"] == "Bearer EAAG-test-access-token-0123456789"
    assert download_headers["User-Agent"].startswith("whatsapp-inbox/")
    assert [(event, data["id"], data["media"]["state"]) for event, data, _ in published] == [
        ("message.updated", media.message_id, "stored")
    ]
    assert published[0][1]["media"]["url"] == f"/media/m/{media.pk}/"
    assert published[0][1]["media"]["thumbnail_url"] == f"/media/m/{media.pk}/thumbnail/"


def test_mirror_keeps_a_documents_sanitised_filename(fake_meta):
    message = MessageFactory(type="document", text="", content={})
    media = MediaFactory(message=message, mime_type="application/pdf", filename="../../Fatura março?.pdf")
    fake_meta.media(media.meta_media_id, b"%PDF-1.7 hello", mime_type="application/pdf")

    dispatch(tasks.mirror_media, media.pk)

    media = reload(media)
    assert media.state == "stored"
    assert media.file.name == f"media/{media.organization_id}/{media.message_id}/Fatura_marco_.pdf"
    assert media.thumbnail.name == ""


def test_mirror_twice_keeps_one_file(fake_meta, published):
    body = jpeg_bytes()
    media = MediaFactory()
    fake_meta.media(media.meta_media_id, body)
    dispatch(tasks.mirror_media, media.pk)
    first = reload(media)

    dispatch(tasks.mirror_media, media.pk)

    assert reload(media).file.name == first.file.name
    assert len([p for p, _ in fake_meta.requests if p.startswith("/files/")]) == 1
    assert len(published) == 1


def _assert_failed(media, reason, published):
    media = reload(media)
    assert (media.state, media.file.name, media.size) == ("failed", "", None)
    assert media.error == reason
    assert [(event, data["media"]["state"], data["media"]["error"]) for event, data, _ in published] == [
        ("message.updated", "failed", reason)
    ]


def test_hash_mismatch_fails_and_keeps_nothing(fake_meta, published, settings):
    media = MediaFactory(sha256=hashlib.sha256(b"something else").hexdigest())
    fake_meta.media(media.meta_media_id, jpeg_bytes(), sha256="")
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "The downloaded file does not match its checksum (SHA-256); it was not kept.", published)
    assert not (settings.MEDIA_ROOT / "media").exists()


@pytest.fixture
def small_inbound_limit(monkeypatch):
    """The refusal of a file over the inbound limit, tried at 500 KB rather than Meta's 100 MB."""
    from apps.media import detect

    monkeypatch.setattr(detect, "inbound_size_limit", lambda: 512000)


def test_a_customers_files_are_held_to_metas_inbound_limit_not_the_outbound_ones(fake_meta, published):
    # A 6 MB photo (a business may send 5 MB) and a 600 KB sticker (500 KB): both kept.
    from apps.providers.meta.capabilities import CAPABILITIES

    photo = jpeg_bytes() + b"\0" * (6 * 1024 * 1024)
    sticker = b"RIFF" + b"\0" * (600 * 1024)
    kept = []
    for kind, mime, body in (("image", "image/jpeg", photo), ("sticker", "image/webp", sticker)):
        media = MediaFactory(message=MessageFactory(type=kind, text="", content={}), mime_type=mime)
        fake_meta.media(media.meta_media_id, body, mime_type=mime)
        dispatch(tasks.mirror_media, media.pk)
        kept.append((reload(media).state, reload(media).size))
    assert kept == [("stored", len(photo)), ("stored", len(sticker))]
    # Announced above Meta's inbound limit: refused before any download.
    media = MediaFactory(message=MessageFactory(type="video", text="", content={}), mime_type="video/mp4")
    fake_meta.media(media.meta_media_id, b"small", mime_type="video/mp4",
                    file_size=CAPABILITIES.inbound_media_size_limit + 1)
    dispatch(tasks.mirror_media, media.pk)
    assert reload(media).state == "failed"
    assert reload(media).error == ("The file is 104857601 bytes, above the 104857600-byte limit for video.")
    assert [p for p, _ in fake_meta.requests if p == f"/files/{media.meta_media_id}"] == []


def test_oversize_file_fails_on_the_announced_size(fake_meta, published, small_inbound_limit):
    message = MessageFactory(type="sticker", text="", content={})
    media = MediaFactory(message=message, mime_type="image/webp")
    fake_meta.media(media.meta_media_id, b"RIFF" + b"\0" * (600 * 1024), mime_type="image/webp")
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "The file is 614404 bytes, above the 512000-byte limit for sticker.", published)
    assert [p for p, _ in fake_meta.requests if p.startswith("/files/")] == []


def test_oversize_body_is_refused_while_streaming(fake_meta, published, small_inbound_limit):
    """Meta announces a small size but the body is larger: the download stops at the limit."""
    message = MessageFactory(type="sticker", text="", content={})
    media = MediaFactory(message=message, mime_type="image/webp")
    body = b"RIFF" + b"\0" * (600 * 1024)
    fake_meta.media(media.meta_media_id, body, mime_type="image/webp", file_size=1000)
    fake_meta.routes[f"/files/{media.meta_media_id}"] = (200, {"Content-Length": "1000"}, b"x" * 1000)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:300_000], body[300_000:])) + b"0\r\n\r\n"
    fake_meta.routes[f"/files/{media.meta_media_id}"] = (200, {"Transfer-Encoding": "chunked"}, chunked)  # no length
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "The file is larger than the limit of 512000 bytes.", published)


def test_expired_url_404_fails(fake_meta, published):
    media = MediaFactory()
    fake_meta.media(media.meta_media_id, jpeg_bytes())
    fake_meta.routes[f"/files/{media.meta_media_id}"] = (404, {}, b"")
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "The file is no longer available at Meta (expired or deleted).", published)


def test_unknown_media_id_fails(fake_meta, published):
    media = MediaFactory()
    fake_meta.routes[f"/graph/v23.0/{media.meta_media_id}"] = (
        400, {"Content-Type": "application/json"},
        b'{"error": {"code": 100, "message": "Object does not exist"}}',
    )
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "Meta no longer has this file (expired or deleted): (100) Object does not exist", published)


def test_redirect_to_another_host_is_refused(fake_meta, published):
    media = MediaFactory()
    fake_meta.media(media.meta_media_id, jpeg_bytes())
    fake_meta.routes[f"/files/{media.meta_media_id}"] = (302, {"Location": "https://files.example.com/x.jpg"}, b"")
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(
        media, "Refused to download from files.example.com: not one of Meta's media hosts.", published
    )


def test_redirect_to_a_private_address_is_refused(fake_meta, published, settings):
    settings.MEDIA_DOWNLOAD_ALLOWED_HOSTS = [*settings.MEDIA_DOWNLOAD_ALLOWED_HOSTS, "localhost"]
    media = MediaFactory()
    fake_meta.media(media.meta_media_id, jpeg_bytes())
    port = fake_meta.url.rsplit(":", 1)[1]
    fake_meta.routes[f"/files/{media.meta_media_id}"] = (
        302, {"Location": f"https://localhost:{port}/files/other"}, b""
    )
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "Refused to download from localhost: it resolves to a private address.", published)
    assert [p for p, _ in fake_meta.requests if p == "/files/other"] == []


def test_a_url_off_metas_hosts_is_refused_without_the_simulator(fake_meta, published, settings):
    settings.SIMULATOR_ENABLED = False
    media = MediaFactory()
    fake_meta.media(media.meta_media_id, jpeg_bytes())
    dispatch(tasks.mirror_media, media.pk)
    _assert_failed(media, "Refused to download from a non-HTTPS address (http).", published)


def test_transient_failures_retry_then_give_up_with_a_reason(fake_meta, published, task_queue):
    media = MediaFactory()
    fake_meta.media(media.meta_media_id, jpeg_bytes())
    fake_meta.routes[f"/files/{media.meta_media_id}"] = (503, {}, b"")

    dispatch(tasks.mirror_media, media.pk)
    delays = []
    while task_queue.delayed:  # each retry is a task sent again with its backoff
        delays.append(task_queue.delayed[0].countdown)
        task_queue.run_delayed()
    assert delays == [tasks.backoff(attempt) for attempt in range(tasks.MAX_RETRIES)]

    downloads = [p for p, _ in fake_meta.requests if p.startswith("/files/")]
    assert len(downloads) == tasks.MAX_RETRIES + 1
    _assert_failed(
        media,
        f"Could not download the file after {tasks.MAX_RETRIES + 1} attempts: HTTP 503 from the Graph API",
        published,
    )


def test_an_animated_sticker_is_recognised(fake_meta):
    import io

    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    message = MessageFactory(type="sticker", text="", content={})
    media = MediaFactory(message=message, mime_type="image/webp")
    fake_meta.media(media.meta_media_id, out.getvalue(), mime_type="image/webp")

    dispatch(tasks.mirror_media, media.pk)

    media = reload(media)
    assert (media.state, media.kind, media.animated, media.thumbnail.name) == ("stored", "sticker", True, "")
    assert media.file.name.endswith(f"/sticker-{media.pk}.webp")
