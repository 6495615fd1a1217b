"""The download guard: Meta's hosts only, public addresses only, checksums either way."""

import base64
import hashlib
import socket

import pytest

from apps.media import download


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("lookaside.fbsbx.com", True),
        ("scontent.xx.fbcdn.net", True),
        ("mmg.whatsapp.net", True),
        ("fbcdn.net", False),
        ("evilfbcdn.net", False),
        ("lookaside.fbsbx.com.example.com", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_host_allowlist(host, allowed):
    assert download.host_allowed(host) is allowed


def test_an_allowed_host_that_resolves_privately_is_refused(monkeypatch, settings):
    settings.SIMULATOR_ENABLED = False

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(download.socket, "getaddrinfo", resolve)
    with pytest.raises(download.DownloadRefused) as caught:
        download.check_url("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1")
    assert str(caught.value) == "Refused to download from lookaside.fbsbx.com: it resolves to a private address."


@pytest.mark.parametrize(
    ("address", "public"),
    [("157.240.1.1", True), ("127.0.0.1", False), ("169.254.169.254", False), ("192.168.1.2", False),
     ("::1", False), ("::ffff:10.0.0.1", False), ("fe80::1", False), ("2a03:2880:f003::1", True)],
)
def test_public_address(address, public):
    assert download._public_address(address) is public


def test_the_simulator_exception_needs_the_simulator_and_its_origin(settings):
    settings.GRAPH_API_BASE = "http://127.0.0.1:8000/simulator/graph"
    settings.SIMULATOR_ENABLED = True
    download.check_url("http://127.0.0.1:8000/simulator/graph/media-download/1/")
    with pytest.raises(download.DownloadRefused):
        download.check_url("http://127.0.0.1:8001/simulator/graph/media-download/1/")
    settings.SIMULATOR_ENABLED = False
    with pytest.raises(download.DownloadRefused):
        download.check_url("http://127.0.0.1:8000/simulator/graph/media-download/1/")


def test_sha256_matches_hex_or_base64():
    digest = hashlib.sha256(b"file").digest()
    assert download.sha256_matches(digest.hex(), digest)
    assert download.sha256_matches(digest.hex().upper(), digest)
    assert download.sha256_matches(base64.b64encode(digest).decode(), digest)
    assert not download.sha256_matches(hashlib.sha256(b"other").hexdigest(), digest)
    assert not download.sha256_matches("not base64!", digest)
