"""Where the Graph client may send a number's access token.

A token is an organisation's key to its WhatsApp account, so it goes to three kinds
of place only: the configured Graph origin (GRAPH_API_BASE's scheme, host and
port; the local simulator's plain-HTTP origin included), Meta's media hosts
(MEDIA_DOWNLOAD_ALLOWED_HOSTS) over HTTPS on the default port, where the URL that
GET /{media-id} answers lives, and the archiving of templates on the host Meta serves
it from (`archive_base`: api.facebook.com), for those two paths only. Every Graph path is built from segments checked
here, and an absolute URL is taken only as a paging link on the Graph origin.

URLs are read with yarl, the parser aiohttp (http.py) uses to decide where to
connect: the host checked is the host called.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings
from yarl import URL

# An id or a name of the Graph API's paths (phone number ids, WABA ids, media ids,
# "messages", "message_templates"): nothing that could change the path's meaning
# ("..", "/", "?", "#", "%", whitespace).
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,128}", re.ASCII)
# Characters no URL of Meta's has, and which parsers read differently.
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f\\]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


# A Resumable Upload API session, as POST /{app-id}/uploads answers it:
# "upload:<base64 of the session>", with Meta's signature appended as "?sig=<sig>".
# Only this shape is taken as the path of the upload's calls (a session id is the one
# Graph path read from an answer, so it must not be able to name another path).
_UPLOAD_SESSION = re.compile(r"upload:([A-Za-z0-9+=_-]{1,512})(?:\?sig=([A-Za-z0-9_-]{1,256}))?", re.ASCII)


class Refused(ValueError):
    """A path or URL the client will not call with the token; the message says why."""


def segment(value) -> str:
    """`value` as one path segment of a Graph URL, or Refused."""
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not _SEGMENT.fullmatch(text):
        raise Refused(f"{value!r} is not a Graph API path segment")
    return text


def graph_url(*segments) -> str:
    """The Graph API URL of the path of `segments` ("<id>", "messages"), each checked."""
    path = "/".join(segment(part) for part in segments)
    base = settings.GRAPH_API_BASE.rstrip("/")
    return f"{base}/{settings.GRAPH_API_VERSION}/{path}"


def upload_session_url(session) -> str:
    """The Graph API URL of a Resumable Upload API session ("upload:<id>[?sig=<sig>]"),
    or Refused: the session's id is one path segment of the Graph origin, its
    signature the only query parameter; "/", "..", "%" and anything else never pass."""
    match = _UPLOAD_SESSION.fullmatch(session) if isinstance(session, str) else None
    if match is None:
        raise Refused(f"{str(session)[:200]!r} is not an upload session id")
    base = settings.GRAPH_API_BASE.rstrip("/")
    url = f"{base}/{settings.GRAPH_API_VERSION}/upload:{match.group(1)}"
    return f"{url}?sig={match.group(2)}" if match.group(2) else url


def archive_base() -> str:
    """Where Meta serves template archiving: META_TEMPLATE_ARCHIVE_BASE, else
    https://api.facebook.com beside Meta's Graph API (its reference names that host, not
    graph.facebook.com), else GRAPH_API_BASE + "/api" (the simulator, or a stand-in for
    Meta, serves it there)."""
    base = (getattr(settings, "META_TEMPLATE_ARCHIVE_BASE", "") or "").rstrip("/")
    if base:
        return base
    graph = settings.GRAPH_API_BASE.rstrip("/")
    return "https://api.facebook.com" if graph == "https://graph.facebook.com" else f"{graph}/api"


def archive_url(waba_id, action: str) -> str:
    """The URL archiving (`action` "archive") or unarchiving ("unarchive") templates of
    the WABA `waba_id` (checked as a segment), or Refused."""
    if action not in ("archive", "unarchive"):
        raise Refused(f"{action!r} is not a template archiving action")
    return f"{archive_base()}/{segment(waba_id)}/message_templates/{action}"


def _parts(url: str):
    """(scheme, host, port) of an absolute URL without credentials, else None."""
    if not isinstance(url, str) or _UNSAFE_URL.search(url):
        return None
    try:
        parsed = URL(url)
        host = parsed.raw_host  # as written on the wire (IDNA-encoded)
        port = parsed.port
    except (ValueError, TypeError):
        return None
    scheme = (parsed.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parsed.user is not None or parsed.password is not None:
        return None
    return scheme, host.lower(), port or _DEFAULT_PORTS[scheme]


def graph_origin() -> tuple[str, str, int] | None:
    return _parts(settings.GRAPH_API_BASE)


@lru_cache(maxsize=1024)
def _token_allowed(url: str, base: str, hosts: tuple[str, ...], archive: str = "") -> bool:
    # Cached per (URL, settings): a send worker asks this for every call it makes.
    parts = _parts(url)
    if parts is None:
        return False
    if parts == _parts(base):
        return True
    if archive and parts == _parts(archive) and URL(url).path.endswith(
            ("/message_templates/archive", "/message_templates/unarchive")):
        return True
    scheme, host, port = parts
    return scheme == "https" and port == 443 and _host_matches(host, hosts)


def host_allowed(host: str) -> bool:
    """Whether `host` is one of Meta's media hosts (MEDIA_DOWNLOAD_ALLOWED_HOSTS;
    "*.example.com" matches its subdomains, not example.com itself)."""
    return _host_matches(host, settings.MEDIA_DOWNLOAD_ALLOWED_HOSTS)


def _host_matches(host: str, patterns) -> bool:
    host = (host or "").lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def token_allowed(url: str) -> bool:
    """Whether the number's token may be sent to `url`."""
    if not isinstance(url, str):
        return False
    return _token_allowed(url, settings.GRAPH_API_BASE, tuple(settings.MEDIA_DOWNLOAD_ALLOWED_HOSTS),
                          archive_base())


def paging_url(url) -> str:
    """A paging link (`paging.next`) to follow, or Refused: only on the Graph origin."""
    parts = _parts(url)
    if parts is None or parts != graph_origin():
        raise Refused("a paging link off the Graph API's origin")
    return url
