"""The simulator's own behaviour: signed webhooks from a background thread, the
control API, the customer phone page."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.simulator.models import SimulatedMessage, SimulatorConfig
from apps.simulator.testing import simulator  # noqa: F401
from apps.providers.meta.client import GraphAPIError, client_for
from apps.providers.meta.signature import sign_body
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from tests.peers.http import serve_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings):
    """A local HTTP server standing in for our webhook URL; yields the received posts."""
    received = []
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("X-Hub-Signature-256")))
            self.send_response(200)
            self.end_headers()
            if len(received) >= 3:
                done.set()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    serve_in_thread(server)
    settings.SIMULATOR_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/webhooks/whatsapp/"
    yield received, done
    server.shutdown()


def test_statuses_are_sent_signed_after_the_answer(simulator, receiver):
    received, done = receiver
    SimulatorConfig.objects.filter(pk=1).update(send_status_webhooks=True, status_delay=0)
    number = WhatsAppNumberFactory(app_secret="s3cret")
    wamid = client_for(number).send_message({"to": "5511999990000", "type": "text", "text": {"body": "Hi"}})["messages"][0]["id"]
    assert done.wait(10)
    statuses = []
    for body, signature in received:
        assert signature == sign_body(body, "s3cret")
        item = json.loads(body)["entry"][0]["changes"][0]["value"]["statuses"][0]
        statuses.append((item["id"], item["status"], item["recipient_id"]))
    assert statuses == [(wamid, "sent", "5511999990000"), (wamid, "delivered", "5511999990000"),
                        (wamid, "read", "5511999990000")]


def test_statuses_echo_the_sends_biz_opaque_callback_data_as_meta_does(simulator, receiver):
    received, done = receiver
    SimulatorConfig.objects.filter(pk=1).update(send_status_webhooks=True, status_delay=0)
    number = WhatsAppNumberFactory(app_secret="s3cret")
    client = client_for(number)
    wamid = client.send_message({"to": "5511999990000", "type": "text", "text": {"body": "Hi"},
                                 "biz_opaque_callback_data": "7:tracked"})["messages"][0]["id"]
    assert done.wait(10)
    items = [json.loads(body)["entry"][0]["changes"][0]["value"]["statuses"][0] for body, _signature in received]
    assert [(item["id"], item["status"], item["biz_opaque_callback_data"]) for item in items] == [
        (wamid, "sent", "7:tracked"), (wamid, "delivered", "7:tracked"), (wamid, "read", "7:tracked")]
    # Meta takes a string of at most 512 characters, and says so otherwise.
    for wrong in ("x" * 513, {"id": 7}):
        with pytest.raises(GraphAPIError) as refused:
            client.send_message({"to": "5511999990000", "type": "text", "text": {"body": "Hi"},
                                 "biz_opaque_callback_data": wrong})
        assert (refused.value.code, refused.value.retryable) == (100, False)
        assert "biz_opaque_callback_data" in refused.value.details


def test_control_api_changes_failure_injection(simulator, client):
    client.force_login(UserFactory(organization=None, is_staff=True, is_superuser=True))
    response = client.post("/simulator/control/", {"fail_code": 131026, "fail_count": 2}, content_type="application/json")
    assert response.status_code == 200
    assert (response.json()["fail_code"], response.json()["fail_count"]) == (131026, 2)
    assert client.post("/simulator/control/", {"nope": 1}, content_type="application/json").status_code == 400


def test_control_api_is_refused_to_agents(simulator, client):
    client.force_login(UserFactory())
    response = client.post("/simulator/control/", {"fail_count": 5}, content_type="application/json")
    assert response.status_code == 403
    assert SimulatorConfig.objects.get(pk=1).fail_count == 0


def test_customer_phone_sends_a_signed_message_webhook(simulator, receiver, client):
    received, _done = receiver
    admin = AdminFactory()
    number = WhatsAppNumberFactory(organization=admin.organization, app_secret="s3cret")
    client.force_login(admin)
    page = client.get(f"/simulator/?number={number.pk}&phone=5511988887777")
    assert page.status_code == 200
    response = client.post(f"/simulator/phone/{number.pk}/send/", {"phone": "5511988887777", "type": "text", "body": "Hello"})
    assert response.status_code == 302
    stored = SimulatedMessage.objects.get(direction="in")
    for _ in range(100):
        if received:
            break
        threading.Event().wait(0.05)
    body, signature = received[0]
    assert signature == sign_body(body, "s3cret")
    message = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
    assert (message["from"], message["id"], message["text"]) == ("5511988887777", stored.wamid, {"body": "Hello"})
    # The customer's own thread shows what they wrote.
    thread = client.get(f"/simulator/?number={number.pk}&phone=5511988887777")
    assert thread.status_code == 200
    assert "Hello" in thread.content.decode()


def test_the_phone_page_needs_a_login(client, simulator):
    assert client.get("/simulator/").status_code == 302


def test_the_phone_refuses_incomplete_input_with_400(simulator, client):
    admin = AdminFactory()
    number = WhatsAppNumberFactory(organization=admin.organization)
    client.force_login(admin)
    assert client.post(f"/simulator/phone/{number.pk}/send/", {"phone": "", "type": "text"}).status_code == 400
    location = {"phone": "5511988887777", "type": "location", "latitude": "x"}
    assert client.post(f"/simulator/phone/{number.pk}/send/", location).status_code == 400
    assert not SimulatedMessage.objects.exists()


def test_graph_calls_take_the_short_path_and_the_pages_the_full_stack(simulator, client, monkeypatch):
    """Graph API calls go straight to their views (apps/simulator/middleware.py) with
    the same answers; the simulator's own pages keep sessions, CSRF and the login."""
    from django.contrib.sessions.middleware import SessionMiddleware

    number = WhatsAppNumberFactory()
    seen = []
    original = SessionMiddleware.process_request
    monkeypatch.setattr(SessionMiddleware, "process_request", lambda self, request: (
        seen.append(request.path), original(self, request))[1])
    path = f"/simulator/graph/v23.0/{number.phone_number_id}/messages"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {number.access_token}"}
    body = {"messaging_product": "whatsapp", "to": "5511999990000", "type": "text", "text": {"body": "Hi"}}
    response = client.post(path, body, content_type="application/json", **auth)
    assert response.status_code == 200
    assert response.json()["messages"][0]["id"] == SimulatedMessage.objects.get().wamid
    assert int(response["Content-Length"]) == len(response.content)
    refused = client.post(path, {**body, "type": "nope"}, content_type="application/json", **auth)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, 131051)
    unknown = client.post(f"/simulator/graph/v23.0/{number.phone_number_id}/nope", {}, content_type="application/json",
                          **auth)
    assert unknown.json()["error"]["code"] == 2500
    assert client.get("/simulator/graph/v23.0/123456").json()["error"]["code"] == 100  # a node: no such media
    assert seen == []
    assert client.get("/simulator/").status_code == 302  # the phone page: login, through the full stack
    assert seen == ["/simulator/"]
