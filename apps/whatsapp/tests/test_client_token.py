"""A number's access token goes to the configured Graph origin and Meta's media
hosts only (audit, issue 16, point 2). Real local listeners stand in for Meta and
for whoever would like the token; each test proves the token never reaches them."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.providers.meta import client as graph_client
from apps.providers.meta import http
from apps.providers.meta.client import GraphAPIError, client_for
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from tests.peers.http import serve_in_thread

pytestmark = pytest.mark.django_db

TOKEN = "EAAG-the-numbers-permanent-token"


class Listener:
    """An HTTP server on 127.0.0.1 recording every request (path, headers).

    `routes` maps a path (with its query) to (status, headers, body); anything else
    answers 200 with an empty JSON object."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict]] = []
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                listener.requests.append((self.command, self.path, dict(self.headers)))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body = listener.routes.get(self.path, (200, {"Content-Type": "application/json"},
                                                                        b"{}"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = serve_in_thread(self.server)

    def json(self, path: str, data: dict, status: int = 200):
        self.routes[path] = (status, {"Content-Type": "application/json"}, json.dumps(data).encode())

    def tokens(self) -> list[str]:
        return [headers.get("Authorization", "") for _, _, headers in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graph(settings):
    """The configured Graph origin (plain HTTP, as the local simulator is)."""
    listener = Listener()
    settings.GRAPH_API_BASE = f"{listener.origin}/graph"
    settings.GRAPH_API_VERSION = "v23.0"
    settings.GRAPH_API_TIMEOUT = 5
    settings.MEDIA_DOWNLOAD_ALLOWED_HOSTS = ["lookaside.fbsbx.com", "*.fbsbx.com", "*.whatsapp.net"]
    yield listener
    listener.close()
    http.reset()


@pytest.fixture
def elsewhere():
    """A host that is neither the Graph origin nor one of Meta's media hosts."""
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def number(graph):
    return WhatsAppNumberFactory(access_token=TOKEN)


def test_a_media_id_that_is_a_url_is_refused_and_the_token_stays_home(number, graph, elsewhere):
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).get_media(f"{elsewhere.origin}/steal")
    assert (caught.value.retryable, caught.value.token_error) == (False, False)
    assert elsewhere.requests == []
    assert graph.requests == []


@pytest.mark.parametrize("media_id", [
    "../../healthz", "..", "1/../../healthz", "123?fields=x", "123#x", "12%2F3", "%2e%2e", "12 3", "", "١٢٣",
    "123\n", "1" * 33,
])
def test_a_media_id_not_of_metas_shape_never_reaches_the_graph_origin(number, graph, media_id):
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).get_media(media_id)
    assert caught.value.retryable is False
    with pytest.raises(GraphAPIError):
        client_for(number).delete_media(media_id)
    assert graph.requests == []


def test_a_numeric_media_id_is_asked_of_the_graph_origin(number, graph):
    graph.json("/graph/v23.0/1234567890123456", {"url": f"{graph.origin}/file", "mime_type": "image/jpeg",
                                                 "id": "1234567890123456"})
    assert client_for(number).get_media("1234567890123456")["url"] == f"{graph.origin}/file"
    assert [(m, p) for m, p, _ in graph.requests] == [("GET", "/graph/v23.0/1234567890123456")]
    assert graph.tokens() == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize("segment", ["../x", "1/2", "1?a=b", "1#f", "1%2f", ".", ""])
def test_every_path_segment_is_checked(number, graph, segment):
    number.phone_number_id = segment
    with pytest.raises(GraphAPIError):
        client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "Hi"}})
    with pytest.raises(GraphAPIError):
        client_for(number).mark_read("wamid.X")
    with pytest.raises(GraphAPIError):
        list(client_for(number).list_templates(segment))
    with pytest.raises(GraphAPIError):
        client_for(number).create_template(segment, {"name": "x"})
    with pytest.raises(GraphAPIError):
        client_for(number).send_message_call({"to": "5511999990000", "type": "text"})
    assert graph.requests == []


def test_get_medias_url_pointing_elsewhere_gets_no_token(number, graph, elsewhere):
    """Meta's answer names where the file is; a URL off Meta's hosts is not called with the token."""
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).download_media(f"{elsewhere.origin}/files/1")
    assert caught.value.retryable is False
    assert elsewhere.requests == []


@pytest.mark.parametrize("url", [
    "http://lookaside.fbsbx.com/x",  # Meta's host, but not over HTTPS
    "https://lookaside.fbsbx.com.evil.example/x",
    "https://evilfbsbx.com/x",
    "https://lookaside.fbsbx.com@evil.example/x",
    "https://evil.example\\@lookaside.fbsbx.com/x",
    "https://lookaside.fbsbx.com:8443/x",
    "ftp://lookaside.fbsbx.com/x",
    "//lookaside.fbsbx.com/x",
    "https://127.0.0.1/x",
])
def test_token_allowed_refuses_what_is_not_metas(graph, url):
    assert graph_client.token_allowed(url) is False


@pytest.mark.parametrize("url", [
    "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2",
    "https://LOOKASIDE.fbsbx.com:443/x",
    "https://scontent.xx.fbsbx.com/x",
    "https://mmg.whatsapp.net/x",
])
def test_token_allowed_to_metas_media_hosts_over_https(graph, url):
    assert graph_client.token_allowed(url) is True


def test_the_graph_origin_itself_is_allowed_even_over_http_for_the_simulator(graph):
    assert graph_client.token_allowed(f"{graph.origin}/graph/media-download/1/") is True
    # The same host on another port is another origin.
    port = int(graph.origin.rsplit(":", 1)[1])
    assert graph_client.token_allowed(f"http://127.0.0.1:{port + 1}/graph/x") is False
    assert graph_client.token_allowed(f"https://127.0.0.1:{port}/graph/x") is False


def test_a_redirect_from_the_media_host_is_not_followed_with_the_token(number, graph, elsewhere, settings):
    """The media host answers 302 to elsewhere: neither the client nor the mirror
    goes there with the token."""
    from apps.media import download

    graph.routes["/graph/media-download/1/"] = (302, {"Location": f"{elsewhere.origin}/loot"}, b"")
    response = client_for(number).download_media(f"{graph.origin}/graph/media-download/1/")
    assert response.status_code == 302
    response.close()
    settings.SIMULATOR_ENABLED = True
    with pytest.raises(download.DownloadRefused):
        download.fetch(client_for(number), f"{graph.origin}/graph/media-download/1/", max_bytes=1000)
    assert elsewhere.requests == []
    assert graph.tokens() == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]


def test_a_paging_link_to_another_host_is_not_followed(number, graph, elsewhere):
    waba = number.waba_id
    graph.json(f"/graph/v23.0/{waba}/message_templates", {
        "data": [{"name": "first"}], "paging": {"next": f"{elsewhere.origin}/graph/v23.0/{waba}/message_templates?after=1"},
    })
    pages = client_for(number).list_templates(waba)
    assert next(pages) == {"name": "first"}
    with pytest.raises(GraphAPIError) as caught:
        next(pages)
    assert caught.value.retryable is False
    assert elsewhere.requests == []
    assert [p for _, p, _ in graph.requests] == [f"/graph/v23.0/{waba}/message_templates"]


def test_a_paging_link_on_the_graph_origin_is_followed(number, graph):
    waba = number.waba_id
    graph.json(f"/graph/v23.0/{waba}/message_templates", {
        "data": [{"name": "first"}], "paging": {"next": f"{graph.origin}/graph/v23.0/{waba}/message_templates?after=1"},
    })
    graph.json(f"/graph/v23.0/{waba}/message_templates?after=1", {"data": [{"name": "second"}]})
    assert [t["name"] for t in client_for(number).list_templates(waba)] == ["first", "second"]
    assert graph.tokens() == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]


@pytest.mark.parametrize("next_url", [
    "https://127.0.0.1:{port}/graph/x",  # the Graph origin's host, another scheme
    "http://127.0.0.1:{other}/graph/x",  # another port
    "http://localhost:{port}/graph/x",  # another host name
    "http://user@127.0.0.1:{port}/graph/x",
    "//127.0.0.1:{port}/graph/x",
])
def test_a_paging_link_must_be_the_graph_origin_exactly(number, graph, next_url):
    port = int(graph.origin.rsplit(":", 1)[1])
    waba = number.waba_id
    graph.json(f"/graph/v23.0/{waba}/message_templates", {
        "data": [], "paging": {"next": next_url.format(port=port, other=port + 1)},
    })
    with pytest.raises(GraphAPIError):
        list(client_for(number).list_templates(waba))
    assert len(graph.requests) == 1


def test_uploads_do_not_follow_redirects(number, graph, elsewhere):
    import io

    graph.routes[f"/graph/v23.0/{number.phone_number_id}/media"] = (
        307, {"Location": f"{elsewhere.origin}/upload"}, b"")
    with pytest.raises(GraphAPIError):
        client_for(number).upload_media(io.BytesIO(b"x"), mime_type="image/png", filename="a.png")
    assert elsewhere.requests == []
