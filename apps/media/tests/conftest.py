"""Fixtures of the media tests: a local S3 server, and a tiny stand-in for Meta's
media endpoints (for the download failures the simulator does not produce)."""

from __future__ import annotations

import hashlib
import io
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from tests.peers.http import serve_in_thread
from tests.peers.s3 import s3_server, s3_storage  # noqa: F401


def png_bytes(size=(640, 480), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(size=(640, 480), color=(30, 30, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()


class FakeMeta:
    """GET /graph/<version>/<media id> answers the media object; /files/<name> the bytes.

    Each route is (status, headers, body); `requests` records (path, headers)."""

    def __init__(self):
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.requests: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append((self.path, dict(self.headers)))
                status, headers, body = fake.routes.get(self.path, (404, {}, b'{"error": {"code": 100}}'))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = serve_in_thread(self.server)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def media(self, media_id: str, body: bytes, *, mime_type="image/jpeg", sha256=None, file_path=None, file_size=None):
        """Register a media object whose URL serves `body` (unless `file_path` is routed elsewhere)."""
        file_path = file_path or f"/files/{media_id}"
        info = {
            "url": f"{self.url}{file_path}",
            "mime_type": mime_type,
            "sha256": sha256 if sha256 is not None else hashlib.sha256(body).hexdigest(),
            "file_size": file_size if file_size is not None else len(body),
            "id": media_id,
        }
        self.routes[f"/graph/v23.0/{media_id}"] = (200, {"Content-Type": "application/json"}, json.dumps(info).encode())
        self.routes.setdefault(file_path, (200, {"Content-Type": mime_type}, body))
        return info


@pytest.fixture
def fake_meta(settings):
    fake = FakeMeta()
    settings.GRAPH_API_BASE = f"{fake.url}/graph"
    settings.GRAPH_API_VERSION = "v23.0"
    settings.SIMULATOR_ENABLED = True
    settings.GRAPH_API_TIMEOUT = 5
    yield fake
    fake.close()
