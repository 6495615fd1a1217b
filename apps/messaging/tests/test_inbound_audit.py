"""Inbound messages against the outside audit (issue 16): media ids that are not
Meta's (point 2), reply contexts, reactions, edits and revokes that point at
another conversation (point 10), and strings no column can hold (point 12:
PostgreSQL refuses NUL)."""

from __future__ import annotations

import pytest

from apps.conversations.models import Contact, Conversation
from apps.conversations.tests.factories import ConversationFactory
from apps.media.models import Media
from apps.messaging.models import Message, Reaction
from apps.messaging.services import inbound
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.providers.meta.parser import parse_webhook
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import envelope, message, messages_change

pytestmark = pytest.mark.django_db

ANA, BRUNO = "5511999990001", "5511999990002"


@pytest.fixture(autouse=True)
def mirrored(monkeypatch):
    """The media ids handed to the mirror task (nothing is downloaded here)."""
    from apps.media import tasks as media_tasks

    calls = []
    monkeypatch.setattr(media_tasks.mirror_media, "apply_async", lambda args=(), kwargs=None, **_: calls.append(args[0]))
    monkeypatch.setattr(media_tasks.mirror_media, "apply_async",
                        lambda args=(), kwargs=None, **_: calls.append(args[0]))
    return calls


@pytest.fixture
def number():
    return WhatsAppNumberFactory()


def parsed(number, *messages, contacts=None):
    """The events of one delivery to `number`, through the parser (as the pipeline does)."""
    return parse_webhook(envelope(messages_change(phone_number_id=number.phone_number_id, messages=messages,
                                                  contacts=contacts)))


_on_commit = []


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    """What the use-cases leave for after the commit (the mirror task, live events)
    runs, as the pipeline's commit would."""
    _on_commit.append(django_capture_on_commit_callbacks)
    yield
    _on_commit.pop()


def receive_single(number, *messages, contacts=None):
    with _on_commit[-1](execute=True):
        for event in parsed(number, *messages, contacts=contacts):
            inbound.message_receive(number=number, event=event)


def receive_batch(number, *messages, contacts=None):
    with _on_commit[-1](execute=True):
        inbound.messages_receive_batch(number=number, events=parsed(number, *messages, contacts=contacts))


RECEIVE = pytest.mark.parametrize("receive", [receive_single, receive_batch], ids=["single", "batch"])


# --- Point 2: a media id that is not Meta's is never fetched ---------------------------


@RECEIVE
@pytest.mark.parametrize("media_id", [
    "http://127.0.0.1:9/steal", "https://lookaside.fbsbx.com/x", "../../healthz", "123/../../x", "123?x=1", "12 3",
    "١٢٣", "1" * 33, {"id": "1"}, True,
])
def test_a_media_id_not_of_metas_shape_keeps_the_message_and_is_not_fetched(number, mirrored, receive, media_id):
    receive(number, message("image", wamid="wamid.IMG", from_=ANA, id=media_id, mime_type="image/jpeg",
                            caption="my receipt"))
    stored = Message.objects.get()
    assert (stored.wamid, stored.type, stored.text) == ("wamid.IMG", "image", "my receipt")
    media = Media.objects.get()
    assert (media.message_id, media.state, media.meta_media_id) == (stored.pk, "failed", "")
    assert media.error == "The file was not fetched: its WhatsApp media id is not one Meta issues."
    assert mirrored == []


@RECEIVE
@pytest.mark.parametrize("media_id", ["1234567890123456", 1234567890123456])
def test_a_numeric_media_id_is_fetched(number, mirrored, receive, media_id):
    receive(number, message("document", wamid="wamid.DOC", from_=ANA, id=media_id, filename="a.pdf"))
    media = Media.objects.get()
    assert (media.state, media.meta_media_id, media.error) == ("pending", "1234567890123456", "")
    assert mirrored == [media.pk]


# --- Point 10: contexts stay within their conversation ----------------------------------


@pytest.fixture
def two_customers(number):
    """Ana and Bruno, each with a conversation on the same number; one message of Ana's
    conversation each way."""
    ana = ConversationFactory(organization=number.organization, number=number, contact__wa_id=ANA)
    bruno = ConversationFactory(organization=number.organization, number=number, contact__wa_id=BRUNO)
    ana_in = MessageFactory(conversation=ana, wamid="wamid.ANA_IN", text="my address is Rua 1")
    ana_out = OutboundMessageFactory(conversation=ana, wamid="wamid.ANA_OUT", text="your code is 1234", status="sent")
    return ana, bruno, ana_in, ana_out


@RECEIVE
@pytest.mark.parametrize("target", ["wamid.ANA_IN", "wamid.ANA_OUT"])
def test_a_reply_context_in_another_conversation_is_not_linked(number, two_customers, receive, target):
    ana, bruno, *_ = two_customers
    receive(number, message(wamid="wamid.B1", from_=BRUNO, body="hi", context={"from": number.phone_number_id,
                                                                              "id": target}))
    reply = Message.objects.get(wamid="wamid.B1")
    assert (reply.conversation_id, reply.reply_to_id, reply.reply_to_wamid) == (bruno.pk, None, target)


@RECEIVE
def test_a_reply_context_in_the_same_conversation_is_linked(number, two_customers, receive):
    ana, _bruno, ana_in, ana_out = two_customers
    receive(number, message(wamid="wamid.A1", from_=ANA, body="yes", context={"id": "wamid.ANA_OUT"}))
    reply = Message.objects.get(wamid="wamid.A1")
    assert (reply.conversation_id, reply.reply_to_id) == (ana.pk, ana_out.pk)


@RECEIVE
def test_a_reply_context_in_the_same_customers_older_conversation_is_not_linked(number, two_customers, receive):
    """Another conversation, even the same customer's, may be seen by other agents."""
    ana, _bruno, ana_in, _ana_out = two_customers
    Conversation.objects.filter(pk=ana.pk).update(status=Conversation.Status.RESOLVED)
    number.organization.on_message_to_resolved = number.organization.ResolvedPolicy.NEW
    number.organization.save()
    receive(number, message(wamid="wamid.A2", from_=ANA, body="again", context={"id": "wamid.ANA_IN"}))
    reply = Message.objects.get(wamid="wamid.A2")
    assert reply.conversation_id != ana.pk
    assert reply.reply_to_id is None


def test_a_reaction_to_another_customers_message_is_not_attached(number, two_customers, published):
    _ana, _bruno, ana_in, _ana_out = two_customers
    receive_single(number, message("reaction", wamid="wamid.R1", from_=BRUNO, message_id="wamid.ANA_IN",
                                   emoji="\U0001F44D"))
    assert list(Reaction.objects.values_list("reactor", "target_wamid", "message_id")) == [
        (BRUNO, "wamid.ANA_IN", None)]
    assert published == []
    ana_in.refresh_from_db()
    assert list(ana_in.reactions.all()) == []


def test_a_reaction_to_the_customers_own_conversation_is_attached(number, two_customers, published):
    _ana, _bruno, _ana_in, ana_out = two_customers
    receive_single(number, message("reaction", wamid="wamid.R2", from_=ANA, message_id="wamid.ANA_OUT",
                                   emoji="\U0001F44D"))
    assert list(Reaction.objects.values_list("reactor", "message_id")) == [(ANA, ana_out.pk)]
    assert [event for event, _, _ in published] == ["message.updated"]


@RECEIVE
def test_a_reaction_waiting_for_its_message_attaches_only_to_the_reactors_message(number, receive):
    """Bruno reacts to a wamid before it arrives; Ana's message with that wamid then
    arrives: Bruno's reaction stays unattached, Ana's own is attached."""
    receive_single(number, message("reaction", wamid="wamid.R3", from_=BRUNO, message_id="wamid.LATE",
                                   emoji="\U0001F44D"))
    receive_single(number, message("reaction", wamid="wamid.R4", from_=ANA, message_id="wamid.LATE", emoji="\u2764"))
    receive(number, message(wamid="wamid.LATE", from_=ANA, body="late"))
    late = Message.objects.get(wamid="wamid.LATE")
    assert dict(Reaction.objects.values_list("reactor", "message_id")) == {BRUNO: None, ANA: late.pk}


def test_an_edit_of_another_customers_message_changes_nothing_of_it(number, two_customers):
    ana, bruno, ana_in, _ana_out = two_customers
    receive_single(number, message("edit", wamid="wamid.E1", from_=BRUNO, original_message_id="wamid.ANA_IN",
                                   message={"type": "text", "text": {"body": "hijacked"}}))
    ana_in.refresh_from_db()
    assert (ana_in.text, ana_in.content, ana_in.edit_history, ana_in.edited_at) == (
        "my address is Rua 1", {"body": "my address is Rua 1"}, [], None)
    kept = Message.objects.get(wamid="wamid.E1")  # Bruno's text is not lost: a message of his own
    assert (kept.conversation_id, kept.text, kept.content["edit_of"]) == (bruno.pk, "hijacked", "wamid.ANA_IN")


def test_a_revoke_of_another_customers_message_changes_nothing(number, two_customers, published):
    _ana, _bruno, ana_in, _ana_out = two_customers
    receive_single(number, message("revoke", wamid="wamid.V1", from_=BRUNO, original_message_id="wamid.ANA_IN"))
    ana_in.refresh_from_db()
    assert (ana_in.status, ana_in.text, ana_in.deleted_at) == ("received", "my address is Rua 1", None)
    assert published == []


def test_a_revoke_of_the_customers_own_message_is_applied(number, two_customers):
    _ana, _bruno, ana_in, _ana_out = two_customers
    receive_single(number, message("revoke", wamid="wamid.V2", from_=ANA, original_message_id="wamid.ANA_IN"))
    ana_in.refresh_from_db()
    assert ana_in.status == "deleted"


# --- Point 12: strings no column can hold -------------------------------------------------

NUL, LONE = "\x00", "\ud800"


@RECEIVE
def test_a_nul_in_a_documents_filename_is_removed_and_the_message_kept(number, mirrored, receive):
    receive(number, message("document", wamid="wamid.NUL", from_=ANA, id="1234567890",
                            filename=f"invoice{NUL}.pdf", caption=f"see{NUL} this", mime_type="application/pdf"))
    stored = Message.objects.get()
    assert stored.content == {"id": "1234567890", "filename": "invoice.pdf", "caption": "see this",
                              "mime_type": "application/pdf"}
    assert stored.text == "see this invoice.pdf"
    media = Media.objects.get()
    assert (media.filename, media.state) == ("invoice.pdf", "pending")
    assert mirrored == [media.pk]


POISONED = [
    ("text", {"body": f"a{NUL}b{LONE}c"}, "abc"),
    ("image", {"id": "1", "caption": f"cap{NUL}{LONE}tion"}, "caption"),
    ("location", {"latitude": 1, "longitude": 2, "name": f"Ho{NUL}me", "address": f"Rua{LONE} 1"}, "Home Rua 1"),
    ("contacts", [{"name": {"formatted_name": f"Jo{NUL}ão", "first_name": f"J{LONE}"},
                   "phones": [{"phone": f"+55{NUL}11", "type": f"CELL{LONE}"}]}], "João"),
    ("interactive", {"type": "list_reply", "list_reply": {"id": f"r{NUL}1", "title": f"Ti{NUL}tle",
                                                          "description": f"De{LONE}sc"}}, "Title — Desc"),
    ("button", {"payload": f"P{NUL}", "text": f"Te{LONE}xt"}, "Text"),
    ("order", {"catalog_id": "1", "text": f"ord{NUL}er", "product_items": [{"product_retailer_id": f"x{NUL}"}]},
     "order"),
    ("future_type", {"field": f"v{NUL}{LONE}"}, ""),
    # JSON inside the JSON, whose own escapes make NUL and lone surrogates again.
    ("interactive", {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent",
                                                        "response_json": '{"a": "x\\u0000", "b": "\\ud800y"}'}},
     "Sent"),
]


def _has_unstorable(value) -> bool:
    if isinstance(value, str):
        return NUL in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_unstorable(k) or _has_unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable(v) for v in value)
    return False


@RECEIVE
@pytest.mark.parametrize("kind, content, text", POISONED, ids=[f"{p[0]}-{i}" for i, p in enumerate(POISONED)])
def test_every_string_of_a_message_is_cleaned_once_and_the_message_kept(number, receive, kind, content, text):
    item = message(kind, wamid=f"wamid.P{NUL}1", from_=ANA, context={"id": f"wamid.X{NUL}", "forwarded": True},
                   referral={"source_url": f"https://x{NUL}", "headline": f"H{LONE}", "body": f"B{NUL}"},
                   errors=[{"code": 131051, "title": f"Unsup{NUL}ported"}])
    item[kind] = content
    receive(number, item, contacts=[{"wa_id": ANA, "profile": {"name": f"A{NUL}na{LONE}"}}])
    stored = Message.objects.get()
    assert (stored.wamid, stored.text, stored.reply_to_wamid) == ("wamid.P1", text, "wamid.X")
    assert stored.referral == {"source_url": "https://x", "headline": "H", "body": "B"}
    assert stored.errors == [{"code": 131051, "title": "Unsupported"}]
    assert not _has_unstorable([stored.content, stored.referral, stored.errors, stored.text])
    assert Contact.objects.get().profile_name == "Ana"
    assert not _has_unstorable(Conversation.objects.get().last_message_preview)


@RECEIVE
def test_strings_longer_than_their_columns_are_cut_and_the_message_kept(number, receive):
    receive(number, message("document", wamid="wamid." + "W" * 400, from_=ANA, id="1234567890",
                            filename="f" * 400 + ".pdf", mime_type="application/" + "x" * 300, sha256="a" * 300,
                            context={"id": "wamid." + "C" * 400}),
            contacts=[{"wa_id": ANA, "profile": {"name": "N" * 500}}])
    stored = Message.objects.get()
    assert (len(stored.wamid), len(stored.reply_to_wamid)) == (255, 255)
    media = Media.objects.get()
    assert (len(media.filename), len(media.mime_type), len(media.sha256)) == (255, 128, 128)
    assert len(Contact.objects.get().profile_name) == 200
    # The same delivery again changes nothing: the cut wamid is the message's id.
    receive(number, message("document", wamid="wamid." + "W" * 400, from_=ANA, id="1234567890"))
    assert Message.objects.count() == 1


def test_a_reaction_with_long_and_poisoned_strings_is_kept(number):
    receive_single(number, message("reaction", wamid="wamid.R9", from_=ANA, message_id="wamid." + "T" * 400 + NUL,
                                   emoji=f"\U0001F44D{NUL}" * 40))
    reaction = Reaction.objects.get()
    assert (len(reaction.target_wamid), reaction.reactor, len(reaction.emoji)) == (255, ANA, 32)
    assert NUL not in reaction.emoji


@RECEIVE
def test_a_wa_id_longer_than_its_column_keeps_the_message(number, receive):
    long_id = "5" * 40
    receive(number, message(wamid="wamid.LONG", from_=long_id, body="hi"),
            contacts=[{"wa_id": long_id, "profile": {"name": "Long"}}])
    contact = Contact.objects.get()
    assert (len(contact.wa_id), len(contact.phone)) == (31, 32)
    assert Message.objects.get().conversation.contact_id == contact.pk
