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
    assert caught.value.retryable is True


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


def test_proxy_settings_are_read_once_per_host_not_per_call(monkeypatch):
    from apps.providers.meta import client as graph_client

    monkeypatch.setattr(graph_client, "_proxy_cache", {})
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "internal.test")
    assert graph_client._http().trust_env is False
    assert graph_client._proxies("https://graph.facebook.com/v23.0/1/messages")["https"] == "http://proxy.test:3128"
    assert graph_client._proxies("https://internal.test/v23.0/1/messages") == {}
    monkeypatch.setenv("HTTPS_PROXY", "http://other.test:3128")  # kept for the process: not looked up again
    assert graph_client._proxies("https://graph.facebook.com/v23.0/2/messages")["https"] == "http://proxy.test:3128"


def test_json_calls_go_straight_to_the_hosts_pool_and_a_closed_pool_is_replaced(number, monkeypatch):
    from apps.providers.meta import client as client_module

    monkeypatch.setattr(client_module, "_targets", {})
    send = client_for(number).send_message
    send({"to": "5511999990000", "type": "text", "text": {"body": "one"}})
    url = client_module.graph_url(number.phone_number_id, "messages")
    pool, request_uri = client_module._targets[url]
    assert request_uri.endswith(f"/{number.phone_number_id}/messages")
    assert pool is client_module._manager(url).connection_from_url(url)  # the manager's own pool
    send({"to": "5511999990000", "type": "text", "text": {"body": "two"}})
    assert client_module._targets[url][0] is pool
    client_module._manager(url).clear()  # the manager drops its pools
    pool.close()
    send({"to": "5511999990000", "type": "text", "text": {"body": "three"}})
    assert client_module._targets[url][0] is not pool
    assert list(SimulatedMessage.objects.order_by("pk").values_list("payload__text__body", flat=True)) == [
        "one", "two", "three"]


def test_through_a_proxy_the_manager_calls(number, monkeypatch):
    import urllib3

    from apps.providers.meta import client as client_module

    proxy = urllib3.ProxyManager("http://127.0.0.1:9")
    monkeypatch.setattr(client_module, "_manager", lambda url: proxy)
    monkeypatch.setattr(client_module, "_targets", {})
    calls = []
    monkeypatch.setattr(proxy, "request", lambda *args, **kw: calls.append(args) or (_ for _ in ()).throw(
        urllib3.exceptions.NewConnectionError(None, "refused")))
    with pytest.raises(GraphAPIError):
        client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "x"}})
    assert calls and calls[0][0] == "POST" and client_module._targets == {}


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


def test_through_a_proxy_the_loop_call_is_made_from_a_thread(number, monkeypatch):
    import threading

    from apps.providers.meta import client as client_module

    seen = []

    def raw(self, method, url, headers, body):
        seen.append((method, url.endswith(f"/{number.phone_number_id}/messages"), threading.current_thread().name))
        return client_module._Answer(200, {}, b'{"messages": [{"id": "wamid.PROXIED"}]}')

    monkeypatch.setattr(client_module, "_target", lambda url: None)  # a proxy is configured for the URL
    monkeypatch.setattr(client_module.GraphClient, "_raw", raw)
    answer = loop_send(client_for(number), {"to": "1", "type": "text", "text": {"body": "a"}})
    assert answer["messages"][0]["id"] == "wamid.PROXIED"
    assert seen[0][:2] == ("POST", True) and seen[0][2] != "graph-sender"


def test_the_sender_loop_takes_the_concurrency_setting(settings):
    from apps.providers.meta import transport
    from apps.providers.meta.client import sender

    transport.reset()
    settings.SEND_CONCURRENCY = 7
    try:
        assert sender().pool.limit == 7 and sender() is sender()
    finally:
        transport.reset()
