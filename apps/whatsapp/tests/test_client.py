"""The client against the simulator, over real HTTP (live_server)."""

import io

import pytest

from apps.conversations.models import AuditLogEntry
from apps.simulator.models import SimulatedMessage, SimulatedTemplate, SimulatorConfig
from apps.providers.meta.client import GraphAPIError, client_for
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def graph(live_server, settings):
    settings.GRAPH_API_BASE = f"{live_server.url}/simulator/graph"
    settings.GRAPH_API_TIMEOUT = 10
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"send_status_webhooks": False, "status_delay": 0})
    return live_server


@pytest.fixture
def number(graph):
    return WhatsAppNumberFactory()


def test_send_message_returns_the_wamid_and_the_simulator_stores_it(number):
    answer = client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "Hi"}})
    wamid = answer["messages"][0]["id"]
    stored = SimulatedMessage.objects.get(wamid=wamid)
    assert (stored.customer, stored.type, stored.payload["text"]) == ("5511999990000", "text", {"body": "Hi"})
    assert answer["contacts"] == [{"input": "5511999990000", "wa_id": "5511999990000"}]


def test_mark_read_with_typing(number):
    assert client_for(number).mark_read("wamid.X", typing=True) == {"success": True}


def test_a_meta_error_is_raised_with_its_fields(number):
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "x" * 4097}})
    error = caught.value
    assert (error.code, error.http_status, error.retryable, error.token_error) == (100, 400, False, False)
    assert "4096" in error.details
    assert error.fbtrace_id.startswith("SIM")


def test_injected_rate_limit_is_retryable_with_retry_after(number):
    SimulatorConfig.objects.filter(pk=1).update(fail_code=130429, fail_count=1, retry_after=3)
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "a"}})
    assert (caught.value.code, caught.value.retryable, caught.value.retry_after) == (130429, True, 3.0)
    # The next request succeeds: the failure was for one request only.
    assert client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "a"}})["messages"]


def test_a_5xx_is_retryable(number):
    SimulatorConfig.objects.filter(pk=1).update(error_5xx_rate=1.0)
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).mark_read("wamid.X")
    assert (caught.value.http_status, caught.value.retryable) == (500, True)


def test_a_refused_token_alerts_the_admins(number, published):
    client = client_for(number)
    client.token = "an-expired-token"
    with pytest.raises(GraphAPIError) as caught:
        client.send_message({"to": "5511999990000", "type": "text", "text": {"body": "a"}})
    assert (caught.value.code, caught.value.token_error, caught.value.retryable) == (190, True, False)
    number.refresh_from_db()
    assert number.token_error.startswith("(190)")
    assert number.token_error_at is not None
    assert AuditLogEntry.objects.filter(organization=number.organization, action="number.token_error").count() == 1
    assert [e[0] for e in published] == ["number.token_error"]
    assert published[0][2] == [f"org.{number.organization_id}.supervisors"]



def test_a_refused_token_is_signalled_with_the_number_and_the_error(number):
    """The provider tells the domain by its signal, importing nothing of it."""
    from apps.providers.meta.signals import token_refused

    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    token_refused.connect(receiver)
    try:
        client = client_for(number)
        client.token = "an-expired-token"
        with pytest.raises(GraphAPIError) as caught:
            client.send_message({"to": "5511999990000", "type": "text", "text": {"body": "a"}})
    finally:
        token_refused.disconnect(receiver)
    assert [(r["number"], r["error"]) for r in received] == [(number, caught.value)]

def test_a_network_error_is_retryable(settings, number):
    settings.GRAPH_API_BASE = "http://127.0.0.1:9/graph"
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).mark_read("wamid.X")
    assert (caught.value.retryable, caught.value.read_timeout) == (True, False)  # never sent


def test_media_upload_get_download_delete(number):
    client = client_for(number)
    media_id = client.upload_media(io.BytesIO(b"\x89PNG fake"), mime_type="image/png", filename="a.png")
    info = client.get_media(media_id)
    assert (info["id"], info["mime_type"], info["file_size"]) == (media_id, "image/png", 9)
    response = client.download_media(info["url"])
    assert response.content == b"\x89PNG fake"
    client.delete_media(media_id)
    with pytest.raises(GraphAPIError) as caught:
        client.get_media(media_id)
    assert caught.value.code == 100


def test_list_templates_follows_paging(number):
    for i in range(5):
        SimulatedTemplate.objects.create(meta_id=str(i), waba_id=number.waba_id, name=f"t_{i}", language="en",
                                         category="UTILITY")
    names = [t["name"] for t in client_for(number).list_templates(number.waba_id, limit=2)]
    assert names == ["t_0", "t_1", "t_2", "t_3", "t_4"]


def test_create_template(number):
    answer = client_for(number).create_template(
        number.waba_id,
        {"name": "order_ready", "language": "en_US", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Ready {{1}}"}]},
    )
    assert answer["status"] == "APPROVED"
    with pytest.raises(GraphAPIError) as caught:
        client_for(number).create_template(number.waba_id, {"name": "Bad Name", "language": "en", "category": "UTILITY",
                                                            "components": []})
    assert caught.value.code == 100


# -- proxies and timeouts, against real local peers ---------------------------------------
class _Proxy:
    """A forward HTTP proxy that answers every call itself with a Graph-shaped JSON:
    what reaches it is the absolute URL the client asked for."""

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from tests.peers.http import serve_in_thread

        self.seen = seen = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with lock:
                    seen.append((self.command, self.path, self.headers.get("Authorization")))
                body = json.dumps({"messaging_product": "whatsapp", "success": True,
                                   "messages": [{"id": "wamid.PROXIED"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve_in_thread(self.server, "test-proxy")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(monkeypatch):
    from apps.providers.meta import http

    peer = _Proxy()
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", peer.url)
    monkeypatch.setenv("http_proxy", peer.url)
    http.reset()  # the environment is read per origin and kept for the process
    yield peer
    peer.close()
    http.reset()


def test_calls_go_through_the_proxy_the_environment_names(number, proxy, settings):
    settings.GRAPH_API_BASE = "http://graph.invalid/graph"  # reachable only through the proxy
    answer = client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "x"}})
    assert answer["messages"][0]["id"] == "wamid.PROXIED"
    assert client_for(number).mark_read("wamid.X")["success"] is True
    path = f"http://graph.invalid/graph/v23.0/{number.phone_number_id}/messages"
    assert proxy.seen == [("POST", path, f"Bearer {number.access_token}")] * 2
    # The send worker's loop calls too (its own connections do not proxy: a thread makes the call).
    assert loop_send(client_for(number), {"to": "1", "type": "text", "text": {"body": "a"}})["messages"][0][
        "id"] == "wamid.PROXIED"
    assert len(proxy.seen) == 3
    assert not SimulatedMessage.objects.exists()


def test_no_proxy_hosts_are_called_directly(number, proxy, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # live_server's host
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    answer = client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "direct"}})
    assert SimulatedMessage.objects.get(wamid=answer["messages"][0]["id"]).payload["text"] == {"body": "direct"}
    answer = loop_send(client_for(number), {"to": "5511999990000", "type": "text", "text": {"body": "loop"}})
    assert SimulatedMessage.objects.filter(wamid=answer["messages"][0]["id"]).exists()
    assert proxy.seen == []


def test_an_answer_that_does_not_come_in_time_is_a_read_timeout(number, settings):
    """The request was sent: Meta may have it (`read_timeout`), unlike a refused connection."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        conn, _ = listener.accept()
        accepted.append(conn)  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    settings.GRAPH_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}/graph"
    settings.GRAPH_API_TIMEOUT = 0.3
    try:
        with pytest.raises(GraphAPIError) as caught:
            client_for(number).send_message({"to": "1", "type": "text", "text": {"body": "a"}})
        assert (caught.value.retryable, caught.value.read_timeout) == (True, True)
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


# -- send_message through the sender loop (the send worker's batches) --------------------
def loop_send(client, payload):
    """send_message_call run by the process's sender loop, its answer read in this thread."""
    from apps.providers.meta.client import sender

    return client.answer(sender().run(client.send_message_call(payload)))


def test_the_loop_call_sends_as_send_message_does(number):
    answer = loop_send(client_for(number), {"to": "5511999990000", "type": "text", "text": {"body": "Loop"}})
    stored = SimulatedMessage.objects.get(wamid=answer["messages"][0]["id"])
    assert (stored.customer, stored.payload["text"]) == ("5511999990000", {"body": "Loop"})


def test_the_loop_calls_answer_is_read_as_send_messages(number, published):
    with pytest.raises(GraphAPIError) as caught:
        loop_send(client_for(number), {"to": "5511999990000", "type": "text", "text": {"body": "x" * 4097}})
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == (100, 400, False)
    SimulatorConfig.objects.filter(pk=1).update(fail_code=130429, fail_count=1, retry_after=3)
    with pytest.raises(GraphAPIError) as caught:
        loop_send(client_for(number), {"to": "5511999990000", "type": "text", "text": {"body": "a"}})
    assert (caught.value.code, caught.value.retryable, caught.value.retry_after) == (130429, True, 3.0)
    # A refused token alerts the admins, from the caller's thread (database work).
    client = client_for(number)
    client.token = "an-expired-token"
    with pytest.raises(GraphAPIError) as caught:
        loop_send(client, {"to": "5511999990000", "type": "text", "text": {"body": "a"}})
    assert caught.value.token_error is True
    number.refresh_from_db()
    assert number.token_error.startswith("(190)") and [e[0] for e in published] == ["number.token_error"]


@pytest.mark.parametrize("raised, read_timeout", [
    ("ReadTimeout", True),  # Meta had the request: it may have accepted it
    ("AnswerLost", True),  # likewise
    ("ConnectTimeout", False),
    ("ConnectionFailed", False),
])
def test_the_loop_calls_transport_errors(number, monkeypatch, raised, read_timeout):
    from apps.providers.meta import transport
    from apps.providers.meta.client import sender

    async def failing(self, *args, **kwargs):
        raise getattr(transport, raised)("boom")

    monkeypatch.setattr(transport.Pool, "request", failing)
    with pytest.raises(GraphAPIError) as caught:
        sender().run(client_for(number).send_message_call({"to": "1", "type": "text", "text": {"body": "a"}}))
    assert (caught.value.retryable, caught.value.read_timeout) == (True, read_timeout)


def test_the_sender_loop_takes_the_concurrency_setting(settings):
    from apps.providers.meta import transport
    from apps.providers.meta.client import sender

    transport.reset()
    settings.SEND_CONCURRENCY = 7
    try:
        assert sender().pool.limit == 7 and sender() is sender()
    finally:
        transport.reset()
