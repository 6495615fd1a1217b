"""The customer phone (a developer's and a demo's tool that plays customers): for the
organisation's admins and platform staff only, scoped to the user's organisation, and
every parameter parsed safely (a 400, never a 500, and nothing stored)."""

import pytest
from django.test import Client

from apps.accounts.tests.factories import (
    AdminFactory,
    SupervisorFactory,
    TeamFactory,
    UserFactory,
)
from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.simulator import webhooks
from apps.simulator.models import SimulatedMedia, SimulatedMessage
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db

CUSTOMER = "5511988887777"
BUTTONS = {"interactive": {"type": "button", "body": {"text": "Which one?"}, "action": {"buttons": [
    {"type": "reply", "reply": {"id": "opt-a", "title": "Option A"}},
    {"type": "reply", "reply": {"id": "opt-b", "title": "Option B"}},
]}}}


@pytest.fixture
def sent(monkeypatch):
    """The webhook bodies the phone would post (signed, from a thread) to our webhook."""
    bodies = []
    monkeypatch.setattr(webhooks, "send_later", lambda batch, *, secret, delay, url=None: bodies.extend(
        (body, secret) for body in batch))
    return bodies


@pytest.fixture
def home():
    number = WhatsAppNumberFactory(app_secret="home-secret")
    org = number.organization
    agent = UserFactory(organization=org)
    TeamFactory(organization=org, members=[agent], numbers=[number])
    contact = ContactFactory(organization=org, wa_id=CUSTOMER, profile_name="Home Customer")
    ConversationFactory(organization=org, number=number, contact=contact, assignee=agent)
    SimulatedMessage.objects.create(
        phone_number_id=number.phone_number_id, customer=CUSTOMER, direction="out", wamid="wamid.home",
        type="interactive", status="sent", payload=BUTTONS,
    )
    return {"number": number, "org": org, "agent": agent, "admin": AdminFactory(organization=org),
            "supervisor": SupervisorFactory(organization=org)}


@pytest.fixture
def foreign():
    number = WhatsAppNumberFactory(app_secret="foreign-secret")
    ContactFactory(organization=number.organization, wa_id="5511900000001", profile_name="Foreign Customer")
    SimulatedMessage.objects.create(
        phone_number_id=number.phone_number_id, customer="5511900000001", direction="out",
        wamid="wamid.foreign", type="text", status="sent", payload={"text": {"body": "Foreign secret text"}},
    )
    return {"number": number, "admin": AdminFactory(organization=number.organization)}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored() -> tuple:
    return (list(SimulatedMessage.objects.order_by("id").values_list("wamid", "payload")),
            SimulatedMedia.objects.count())


def phone_urls(number) -> list[tuple[str, str, dict]]:
    return [
        ("get", "/simulator/", {}),
        ("get", "/simulator/", {"number": number.pk, "phone": CUSTOMER}),
        ("get", f"/simulator/phone/{number.pk}/{CUSTOMER}/thread/", {}),
        ("post", f"/simulator/phone/{number.pk}/send/", {"phone": CUSTOMER, "type": "text", "body": "Hi"}),
        ("post", f"/simulator/phone/{number.pk}/send/", {
            "phone": CUSTOMER, "type": "button", "target": "wamid.home", "button": "0"}),
    ]


# --- who may use it ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_get_403_on_every_phone_view(home, sent, role):
    client = logged_in(home[role])
    before = stored()
    for method, url, data in phone_urls(home["number"]):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url, data)
        body = response.content.decode()
        assert "Home Customer" not in body and "Which one?" not in body
    assert stored() == before
    assert sent == []


def test_users_of_no_organisation_who_are_not_platform_staff_get_403(home, sent):
    client = logged_in(UserFactory(organization=None, is_staff=True))
    for method, url, data in phone_urls(home["number"]):
        assert getattr(client, method)(url, data).status_code == 403, (method, url)
    assert sent == []


def test_every_phone_view_needs_a_login(home, sent):
    before = stored()
    for method, url, data in phone_urls(home["number"]):
        response = getattr(Client(), method)(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), (method, url)
    assert stored() == before
    assert sent == []


def test_an_admin_cannot_open_or_post_to_another_organisations_number(home, foreign, sent):
    client = logged_in(home["admin"])
    number = foreign["number"]
    before = stored()
    page = client.get("/simulator/")
    assert page.status_code == 200
    assert [n.pk for n in page.context["numbers"]] == [home["number"].pk]
    assert "Foreign Customer" not in page.content.decode()
    assert client.get("/simulator/", {"number": number.pk, "phone": "5511900000001"}).status_code == 404
    assert client.get(f"/simulator/phone/{number.pk}/5511900000001/thread/").status_code == 404
    for data in ({"phone": "5511900000001", "type": "text", "body": "Hi"},
                 {"phone": "5511900000001", "type": "reaction", "target": "wamid.foreign", "body": "👍"}):
        assert client.post(f"/simulator/phone/{number.pk}/send/", data).status_code == 404
    assert stored() == before
    assert sent == []


def test_the_phone_lists_only_the_organisations_contacts(home, foreign):
    page = logged_in(home["admin"]).get("/simulator/", {"number": home["number"].pk})
    assert [c.wa_id for c in page.context["contacts"]] == [CUSTOMER]


def test_platform_staff_use_every_organisations_numbers(home, foreign, sent):
    client = logged_in(UserFactory(organization=None, is_staff=True, is_superuser=True, username="root"))
    page = client.get("/simulator/", {"number": foreign["number"].pk, "phone": "5511900000001"})
    assert page.status_code == 200
    assert {n.pk for n in page.context["numbers"]} == {home["number"].pk, foreign["number"].pk}
    assert [c.wa_id for c in page.context["contacts"]] == ["5511900000001"]
    assert "Foreign secret text" in page.content.decode()
    response = client.post(f"/simulator/phone/{foreign['number'].pk}/send/",
                           {"phone": "5511900000001", "type": "text", "body": "Hi"})
    assert response.status_code == 302
    assert [secret for _, secret in sent] == ["foreign-secret"]


# --- the demo flow ------------------------------------------------------------------------

def test_an_admin_opens_the_phone_sends_and_taps_a_button(home, sent):
    client = logged_in(home["admin"])
    number = home["number"]
    page = client.get("/simulator/", {"number": number.pk, "phone": CUSTOMER})
    assert page.status_code == 200
    assert "Which one?" in page.content.decode()
    assert [c.wa_id for c in page.context["contacts"]] == [CUSTOMER]

    response = client.post(f"/simulator/phone/{number.pk}/send/",
                           {"phone": CUSTOMER, "type": "text", "body": "Hello", "name": "Maria"})
    assert (response.status_code, response["Location"]) == (302, f"/simulator/?number={number.pk}&phone={CUSTOMER}")
    response = client.post(f"/simulator/phone/{number.pk}/send/",
                           {"phone": CUSTOMER, "type": "button", "target": "wamid.home", "button": "1"})
    assert response.status_code == 302

    assert [secret for _, secret in sent] == ["home-secret", "home-secret"]
    text, button = (body["entry"][0]["changes"][0]["value"] for body, _ in sent)
    assert text["contacts"] == [{"profile": {"name": "Maria"}, "wa_id": CUSTOMER}]
    assert (text["messages"][0]["type"], text["messages"][0]["text"]) == ("text", {"body": "Hello"})
    assert button["messages"][0]["interactive"] == {
        "type": "button_reply", "button_reply": {"id": "opt-b", "title": "Option B"}}
    assert button["messages"][0]["context"] == {"from": number.display_phone_number, "id": "wamid.home"}
    thread = client.get(f"/simulator/phone/{number.pk}/{CUSTOMER}/thread/")
    assert thread.status_code == 200
    assert "Hello" in thread.content.decode() and "Option B" in thread.content.decode()


# --- parameters ---------------------------------------------------------------------------

BAD_SENDS = [
    ("button", {"type": "button", "target": "wamid.home", "button": "x"}),
    ("button", {"type": "button", "target": "wamid.home", "button": "-1"}),
    ("button", {"type": "button", "target": "wamid.home", "button": "²"}),
    ("button", {"type": "button", "target": "wamid.home", "button": "1.5"}),
    ("button", {"type": "button", "target": "wamid.home", "button": "9" * 30}),
    ("button", {"type": "button", "target": "wamid.home", "button": "2"}),  # it has two buttons
    ("target", {"type": "button", "target": "wamid.home\x00", "button": "0"}),
    ("target", {"type": "reaction", "target": "\x00", "body": "👍"}),
    ("body", {"type": "text", "body": "Hi\x00"}),
    ("body", {"type": "reaction", "target": "wamid.home", "body": "\x00"}),
    ("name", {"type": "text", "body": "Hi", "name": "Ma\x00ria"}),
    ("type", {"type": "te\x00xt", "body": "Hi"}),
    ("latitude", {"type": "location", "latitude": "nan", "longitude": "1"}),
    ("latitude", {"type": "location", "latitude": "inf", "longitude": "1"}),
    ("latitude", {"type": "location", "latitude": "91", "longitude": "1"}),
    ("longitude", {"type": "location", "latitude": "1", "longitude": "1e400"}),
    ("longitude", {"type": "location", "latitude": "1", "longitude": "-180.5"}),
    ("latitude", {"type": "location", "latitude": "1\x00", "longitude": "1"}),
    ("phone", {"phone": "5511\x00", "type": "text", "body": "Hi"}),
    ("phone", {"phone": "٥٥١١٩٨٨٨٨٧٧٧٧", "type": "text", "body": "Hi"}),
    ("phone", {"phone": "5" * 40, "type": "text", "body": "Hi"}),
]


@pytest.mark.parametrize("field,data", BAD_SENDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_SENDS)])
def test_bad_send_parameters_are_a_400_and_store_nothing(home, sent, field, data):
    before = stored()
    response = logged_in(home["admin"]).post(f"/simulator/phone/{home['number'].pk}/send/",
                                             {"phone": CUSTOMER, **data})
    assert response.status_code == 400
    assert stored() == before
    assert sent == []


def test_a_picture_of_a_bad_type_is_a_400_and_its_name_is_stored_clean(home, sent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = logged_in(home["admin"])
    url = f"/simulator/phone/{home['number'].pk}/send/"
    before = stored()
    for content_type in ("image/" + "x" * 200, "image/png\x00", "nonsense"):
        upload = SimpleUploadedFile("pic.png", b"\x89PNG", content_type=content_type)
        assert client.post(url, {"phone": CUSTOMER, "type": "image", "file": upload}).status_code == 400, content_type
    assert stored() == before
    assert sent == []
    for name in ("p" * 300 + ".png", "pic\x00.png"):
        upload = SimpleUploadedFile(name, b"\x89PNG", content_type="image/png")
        assert client.post(url, {"phone": CUSTOMER, "type": "image", "file": upload}).status_code == 302
    names = list(SimulatedMedia.objects.order_by("id").values_list("filename", flat=True))
    assert len(names) == 2 and len(names[0]) <= 255 and "\x00" not in names[1]


@pytest.mark.parametrize("customer", ["5511%00", "%00", "abc", "5" * 40, "%D9%A5%D9%A5"])
def test_a_bad_customer_in_the_threads_path_is_a_400(home, customer):
    response = logged_in(home["admin"]).get(f"/simulator/phone/{home['number'].pk}/{customer}/thread/")
    assert response.status_code == 400


@pytest.mark.parametrize("query", [
    {"number": "x"}, {"number": "0"}, {"number": "9" * 30}, {"number": "1\x00"},
    {"phone": "5511\x00"}, {"phone": "5" * 40}, {"phone": "٥٥١١"},
])
def test_bad_page_parameters_are_a_400(home, query):
    assert logged_in(home["admin"]).get("/simulator/", query).status_code == 400


def test_a_number_id_past_bigint_in_the_path_is_refused(home, sent):
    client = logged_in(home["admin"])
    huge = "9" * 25
    assert client.get(f"/simulator/phone/{huge}/{CUSTOMER}/thread/").status_code in (400, 404)
    assert client.post(f"/simulator/phone/{huge}/send/", {"phone": CUSTOMER, "type": "text"}).status_code in (400, 404)
    assert sent == []


def test_a_phone_typed_with_spaces_and_a_plus_is_read_as_its_digits(home):
    page = logged_in(home["admin"]).get("/simulator/", {"number": home["number"].pk, "phone": "+55 11 98888-7777"})
    assert page.status_code == 200
    assert page.context["customer"] == CUSTOMER


# --- the phone as a customer's phone --------------------------------------------------------

LIST = {"interactive": {"type": "list", "body": {"text": "Pick a slot"}, "action": {"button": "Slots", "sections": [
    {"title": "Morning", "rows": [{"id": "slot-9", "title": "9:00", "description": "Before lunch"}]},
]}}}


def test_the_phone_shows_the_business_as_whatsapp_does_and_taps_buttons_rows_and_reactions(home, sent):
    number = home["number"]
    SimulatedMessage.objects.create(phone_number_id=number.phone_number_id, customer=CUSTOMER, direction="out",
                                    wamid="wamid.list", type="interactive", status="sent", payload=LIST)
    client = logged_in(home["admin"])
    html = client.get("/simulator/", {"number": number.pk, "phone": CUSTOMER}).content.decode()
    # Reply buttons and list rows are buttons to tap; every business message can be reacted to.
    assert 'data-sim-button="1">Option B</button>' in html
    assert 'data-sim-row="slot-9"><strong>9:00</strong><small>Before lunch</small>' in html
    assert html.count('<details class="sim-react">') == 2
    assert "You are Home Customer" in html

    url = f"/simulator/phone/{number.pk}/send/"
    assert client.post(url, {"phone": CUSTOMER, "type": "list", "target": "wamid.list", "row": "slot-9"}).status_code == 302
    assert client.post(url, {"phone": CUSTOMER, "type": "reaction", "target": "wamid.home", "body": "❤️"}).status_code == 302
    assert client.post(url, {"phone": CUSTOMER, "type": "list", "target": "wamid.list", "row": "nope"}).status_code == 400
    listed, reacted = (body["entry"][0]["changes"][0]["value"]["messages"][0] for body, _ in sent)
    assert listed["interactive"] == {"type": "list_reply",
                                     "list_reply": {"id": "slot-9", "title": "9:00", "description": "Before lunch"}}
    assert listed["context"]["id"] == "wamid.list"
    assert reacted["reaction"] == {"message_id": "wamid.home", "emoji": "❤️"}


def test_the_phone_sends_documents_audio_and_contacts_under_a_chosen_name(home, sent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    number = home["number"]
    client = logged_in(home["admin"])
    url = f"/simulator/phone/{number.pk}/send/"
    pdf = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    assert client.post(url, {"phone": CUSTOMER, "type": "document", "file": pdf, "name": "Maria Souza"}).status_code == 302
    voice = SimpleUploadedFile("note.ogg", b"OggS", content_type="audio/ogg")
    assert client.post(url, {"phone": CUSTOMER, "type": "audio", "file": voice}).status_code == 302
    card = {"phone": CUSTOMER, "type": "contacts", "contact_name": "Ana Lima", "contact_phone": "+55 11 91234-5678"}
    assert client.post(url, card).status_code == 302
    not_audio = SimpleUploadedFile("x.pdf", b"%PDF", content_type="application/pdf")
    assert client.post(url, {"phone": CUSTOMER, "type": "audio", "file": not_audio}).status_code == 400
    assert client.post(url, {"phone": CUSTOMER, "type": "contacts", "contact_name": "Ana"}).status_code == 400

    document, audio, contacts = (body["entry"][0]["changes"][0]["value"] for body, _ in sent)
    assert document["contacts"][0]["profile"]["name"] == "Maria Souza"
    assert document["messages"][0]["document"]["filename"] == "invoice.pdf"
    assert document["messages"][0]["document"]["mime_type"] == "application/pdf"
    assert audio["messages"][0]["audio"]["mime_type"] == "audio/ogg"
    assert contacts["messages"][0]["contacts"] == [{
        "name": {"formatted_name": "Ana Lima", "first_name": "Ana Lima"},
        "phones": [{"phone": "+5511912345678", "wa_id": "5511912345678", "type": "CELL"}]}]
    # The phone remembers the name it writes under.
    assert "You are Maria Souza" in client.get("/simulator/", {"number": number.pk, "phone": CUSTOMER}).content.decode()
    thread = client.get(f"/simulator/phone/{number.pk}/{CUSTOMER}/thread/").content.decode()
    assert "invoice.pdf" in thread and "Ana Lima" in thread and 'class="sim-tick sim-sent"' in thread
