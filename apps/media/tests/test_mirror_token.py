"""Mirroring a customer's file never hands the number's token to anyone but Meta
(audit, issue 16, point 2): real local listeners stand in for Meta (fake_meta)
and for whoever would like the token."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.media import services
from apps.media.models import Media
from apps.media.tests.conftest import jpeg_bytes
from apps.media.tests.factories import MediaFactory
from tests.peers.http import serve_in_thread

pytestmark = pytest.mark.django_db

TOKEN = "EAAG-the-numbers-permanent-token"


@pytest.fixture
def elsewhere():
    """A listener on 127.0.0.1 recording the Authorization header of every request."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = jpeg_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_thread(server)
    server.seen = seen
    server.origin = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def media_with_token(**kwargs):
    media = MediaFactory(**kwargs)
    number = media.message.number
    number.access_token = TOKEN
    number.save()
    return media


@pytest.mark.parametrize("meta_media_id", ["{origin}/steal", "../../healthz", "123/../../x", "abc"])
def test_a_stored_media_id_not_of_metas_shape_is_marked_failed_not_fetched(fake_meta, elsewhere, meta_media_id):
    """A row stored before inbound checked the shape: the mirror refuses it too."""
    media = media_with_token(meta_media_id=meta_media_id.format(origin=elsewhere.origin))
    services.media_mirror(media_id=media.pk)
    media.refresh_from_db()
    assert (media.state, media.error, media.file.name) == (
        "failed", "The file was not fetched: its WhatsApp media id is not one Meta issues.", "")
    assert elsewhere.seen == []
    assert fake_meta.requests == []


def test_a_media_url_off_metas_hosts_is_not_called_with_the_token(fake_meta, elsewhere):
    body = jpeg_bytes()
    media = media_with_token(meta_media_id="123456789")
    fake_meta.media("123456789", body)
    fake_meta.routes["/graph/v23.0/123456789"] = (
        200, {"Content-Type": "application/json"},
        ('{"url": "%s/files/123456789", "mime_type": "image/jpeg", "id": "123456789"}' % elsewhere.origin).encode())
    services.media_mirror(media_id=media.pk)
    media.refresh_from_db()
    assert media.state == "failed"
    assert elsewhere.seen == []
    assert [path for path, _ in fake_meta.requests] == ["/graph/v23.0/123456789"]


def test_a_redirect_from_the_media_host_elsewhere_is_not_followed(fake_meta, elsewhere):
    media = media_with_token(meta_media_id="123456790")
    fake_meta.media("123456790", jpeg_bytes(), file_path="/files/moved")
    fake_meta.routes["/files/moved"] = (302, {"Location": f"{elsewhere.origin}/loot"}, b"")
    services.media_mirror(media_id=media.pk)
    media.refresh_from_db()
    assert media.state == "failed"
    assert elsewhere.seen == []
    assert [(path, headers.get("Authorization")) for path, headers in fake_meta.requests] == [
        ("/graph/v23.0/123456790", f"Bearer {TOKEN}"), ("/files/moved", f"Bearer {TOKEN}")]


def test_a_numeric_media_id_on_the_graph_origin_is_mirrored(fake_meta):
    body = jpeg_bytes()
    media = media_with_token(meta_media_id="123456791")
    fake_meta.media("123456791", body)
    services.media_mirror(media_id=media.pk)
    media = Media.objects.get(pk=media.pk)
    assert (media.state, media.size) == ("stored", len(body))


def test_a_redirect_within_metas_hosts_is_followed_without_the_token(fake_meta):
    body = jpeg_bytes()
    media = media_with_token(meta_media_id="123456792")
    fake_meta.media("123456792", body, file_path="/files/first")
    fake_meta.routes["/files/first"] = (302, {"Location": "/files/signed"}, b"")
    fake_meta.routes["/files/signed"] = (200, {"Content-Type": "image/jpeg"}, body)
    services.media_mirror(media_id=media.pk)
    media = Media.objects.get(pk=media.pk)
    assert media.state == "stored"
    assert [(path, headers.get("Authorization")) for path, headers in fake_meta.requests] == [
        ("/graph/v23.0/123456792", f"Bearer {TOKEN}"), ("/files/first", f"Bearer {TOKEN}"), ("/files/signed", None)]
