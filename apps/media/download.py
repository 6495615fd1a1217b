"""Fetching a customer's file from Meta, safely.

Only the URL the Graph API gave for that media id is followed, only on Meta's
hosts (settings.MEDIA_DOWNLOAD_ALLOWED_HOSTS), never to a private, loopback or
link-local address, and redirects are followed by hand so that every hop is
checked again, without the number's token. The body is streamed into a spooled
temporary file while it is hashed and counted: a large video never sits whole in
memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import socket
import tempfile
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 3
CHUNK_SIZE = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024


class DownloadRefused(Exception):
    """The file cannot be had (a retry will not help); the message says why."""


class DownloadTransient(Exception):
    """A failure a later retry may clear (network, 5xx)."""


@dataclass
class Downloaded:
    file: tempfile.SpooledTemporaryFile
    size: int
    sha256_hex: str
    content_type: str


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _simulator_url(url: str) -> bool:
    """The built-in simulator serves media on our own host; it is trusted only when
    it is enabled and the URL is under GRAPH_API_BASE's origin."""
    base = getattr(settings, "GRAPH_API_BASE", "") or ""
    return bool(settings.SIMULATOR_ENABLED and base and _origin(url) == _origin(base))


def host_allowed(host: str) -> bool:
    from apps.providers.meta.destinations import host_allowed as meta_media_host

    return meta_media_host(host)


def _public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str) -> None:
    """Raise DownloadRefused unless `url` may be fetched."""
    if _simulator_url(url):
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise DownloadRefused(f"Refused to download from a non-HTTPS address ({parts.scheme or 'none'}).")
    host = parts.hostname or ""
    if not host_allowed(host):
        raise DownloadRefused(f"Refused to download from {host or 'an empty host'}: not one of Meta's media hosts.")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise DownloadTransient(f"Could not resolve {host}: {exc}") from exc
    for info in infos:
        if not _public_address(info[4][0]):
            raise DownloadRefused(f"Refused to download from {host}: it resolves to a private address.")


def sha256_matches(expected: str, digest: bytes) -> bool:
    """Meta's sha256 arrives as hex or as base64; compare with either."""
    expected = (expected or "").strip()
    if not expected:
        return True
    if expected.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(expected, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


def fetch(client, url: str, *, max_bytes: int) -> Downloaded:
    """Download `url` with the number's client into a spooled temporary file.

    Raises DownloadRefused (give up) or DownloadTransient / GraphAPIError (retry
    when `retryable`). The caller closes the returned file.
    """
    for hop in range(MAX_REDIRECTS + 1):
        check_url(url)
        # The token goes with the URL Meta's Graph API gave, never with a redirect.
        response = client.download_media(url, authorize=hop == 0)
        try:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise DownloadRefused("Meta redirected the download without a destination.")
                url = urljoin(url, location)
                continue
            if response.status_code != 200:
                if response.status_code >= 500:
                    raise DownloadTransient(f"HTTP {response.status_code} while downloading.")
                raise DownloadRefused(f"Unexpected HTTP {response.status_code} while downloading.")
            return _read(response, max_bytes=max_bytes)
        finally:
            response.close()
    raise DownloadRefused(f"Too many redirects (more than {MAX_REDIRECTS}).")


def _read(response, *, max_bytes: int) -> Downloaded:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise DownloadRefused(f"The file is {int(length)} bytes, above the limit of {max_bytes} bytes.")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
            if not chunk:
                continue
            size += len(chunk)
            if size > max_bytes:
                raise DownloadRefused(f"The file is larger than the limit of {max_bytes} bytes.")
            digest.update(chunk)
            spool.write(chunk)
    except DownloadRefused:
        spool.close()
        raise
    except OSError as exc:  # a connection cut mid-body (the client's http.Failure), a timeout
        spool.close()
        raise DownloadTransient(f"The download was interrupted: {exc}") from exc
    spool.seek(0)
    return Downloaded(
        file=spool, size=size, sha256_hex=digest.hexdigest(), content_type=response.headers.get("Content-Type", "")
    )
